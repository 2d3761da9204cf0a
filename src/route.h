/* The route table: method and path to handler. 404 and 405 are decided here, and
 * authentication runs for every route not marked ROUTE_PUBLIC. */
#ifndef LEADLISTS_ROUTE_H
#define LEADLISTS_ROUTE_H

#include "handler.h"
#include "request.h"

/* Handles one request from routing to the answer. */
void route_dispatch(struct request *r, struct app *app);

#endif
