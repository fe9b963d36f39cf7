/* The endpoint handlers, one file each under src/http/handler_<name>.c. */
#ifndef NETDIAG_HTTP_HANDLERS_H
#define NETDIAG_HTTP_HANDLERS_H

struct nd_request;

void nd_handle_index(struct nd_request *request);
void nd_handle_healthz(struct nd_request *request);
void nd_handle_readyz(struct nd_request *request);
void nd_handle_metrics(struct nd_request *request);
void nd_handle_openapi_yaml(struct nd_request *request);
void nd_handle_openapi_json(struct nd_request *request);
void nd_handle_docs(struct nd_request *request);
void nd_handle_docs_asset(struct nd_request *request);
void nd_handle_byteorder(struct nd_request *request);
void nd_handle_convert(struct nd_request *request);
void nd_handle_service(struct nd_request *request);
void nd_handle_hostinfo(struct nd_request *request);
void nd_handle_resolve(struct nd_request *request);
void nd_handle_sntp(struct nd_request *request);
void nd_handle_sockopts(struct nd_request *request);

#endif
