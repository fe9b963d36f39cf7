/*
 * The life of a probe on the loop, as the TCP probe (connect.c) and the UDP
 * probe (udp.c) both live it: it holds timers, a socket per attempt and
 * perhaps a uv_getaddrinfo; once its verdict is in, everything it holds
 * closes, and only after the last close callback (and the lookup's) has
 * run may it be freed and its caller told. A failed attempt's socket
 * closes before the next attempt's opens.
 *
 * struct nd_probe_life is the first member of the probe, so that the
 * probe's address is also its life's, and each handle's data (the probe)
 * serves the callbacks here and the probe's own alike.
 */
#ifndef NETDIAG_PROBE_PROBE_LIFE_H
#define NETDIAG_PROBE_PROBE_LIFE_H

#include <stdbool.h>

#include <uv.h>

struct nd_probe_life {
    unsigned open_handles; /* whose close callback is still due */
    bool looking_up;       /* a uv_getaddrinfo whose callback is still due */
    bool socket_open;      /* the attempt's socket, not closing yet */
    bool finished;         /* the verdict is in; what is open is closing */
    /* Frees the probe and tells its caller: once, when nothing is due. */
    void (*release)(struct nd_probe_life *life);
    /* The next attempt, after a failed one's socket has closed. */
    void (*next_attempt)(struct nd_probe_life *life);
};

/* The probe's start: its two timers initialised and held, and what
 * release and next_attempt (see above) do. */
void nd_probe_life_begin(struct nd_probe_life *life, uv_loop_t *loop, uv_timer_t *first,
                         uv_timer_t *second, void (*release)(struct nd_probe_life *life),
                         void (*next_attempt)(struct nd_probe_life *life));

/* handle joins what the probe (whose first member is life) holds open. */
void nd_probe_life_hold(struct nd_probe_life *life, uv_handle_t *handle);

/* The socket of an attempt, held as nd_probe_life_hold does. */
void nd_probe_life_hold_socket(struct nd_probe_life *life, uv_handle_t *socket);

/* Releases the probe when it is finished and nothing is due any more. */
void nd_probe_life_release_if_idle(struct nd_probe_life *life);

/* First thing in the lookup's callback: clears looking_up; false when the
 * probe finished meanwhile (list is freed then, and the probe released if
 * nothing else is due), true when the probe goes on with list. */
bool nd_probe_life_lookup_returned(struct nd_probe_life *life, struct addrinfo *list);

/* Closes the attempt's socket, if open: with the next attempt to follow
 * (unless the probe finishes meanwhile) when next is true. */
void nd_probe_life_close_socket(struct nd_probe_life *life, uv_handle_t *socket, bool next);

/* The verdict is in (once: the caller checks finished first): closes the
 * two timers and the socket and cancels a lookup not started yet (one
 * under way comes back, sees the probe finished, and releases it). */
void nd_probe_life_finish(struct nd_probe_life *life, uv_timer_t *first, uv_timer_t *second,
                          uv_handle_t *socket, uv_getaddrinfo_t *lookup);

#endif
