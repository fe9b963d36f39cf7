#include "probe/probe_life.h"

static void on_closed(uv_handle_t *handle)
{
    struct nd_probe_life *life = handle->data;
    life->open_handles--;
    nd_probe_life_release_if_idle(life);
}

static void on_attempt_closed(uv_handle_t *handle)
{
    struct nd_probe_life *life = handle->data;
    life->open_handles--;
    if (life->finished)
        nd_probe_life_release_if_idle(life);
    else
        life->next_attempt(life);
}

void nd_probe_life_begin(struct nd_probe_life *life, uv_loop_t *loop, uv_timer_t *first,
                         uv_timer_t *second, void (*release)(struct nd_probe_life *life),
                         void (*next_attempt)(struct nd_probe_life *life))
{
    life->release = release;
    life->next_attempt = next_attempt;
    uv_timer_init(loop, first);
    uv_timer_init(loop, second);
    nd_probe_life_hold(life, (uv_handle_t *)first);
    nd_probe_life_hold(life, (uv_handle_t *)second);
}

void nd_probe_life_hold(struct nd_probe_life *life, uv_handle_t *handle)
{
    handle->data = life;
    life->open_handles++;
}

void nd_probe_life_hold_socket(struct nd_probe_life *life, uv_handle_t *socket)
{
    nd_probe_life_hold(life, socket);
    life->socket_open = true;
}

void nd_probe_life_release_if_idle(struct nd_probe_life *life)
{
    if (life->finished && life->open_handles == 0 && !life->looking_up)
        life->release(life);
}

bool nd_probe_life_lookup_returned(struct nd_probe_life *life, struct addrinfo *list)
{
    life->looking_up = false;
    if (!life->finished)
        return true;
    uv_freeaddrinfo(list);
    nd_probe_life_release_if_idle(life);
    return false;
}

void nd_probe_life_close_socket(struct nd_probe_life *life, uv_handle_t *socket, bool next)
{
    if (!life->socket_open)
        return;
    life->socket_open = false;
    uv_close(socket, next ? on_attempt_closed : on_closed);
}

void nd_probe_life_finish(struct nd_probe_life *life, uv_timer_t *first, uv_timer_t *second,
                          uv_handle_t *socket, uv_getaddrinfo_t *lookup)
{
    life->finished = true;
    uv_close((uv_handle_t *)first, on_closed);
    uv_close((uv_handle_t *)second, on_closed);
    nd_probe_life_close_socket(life, socket, false);
    if (life->looking_up)
        uv_cancel((uv_req_t *)lookup);
}
