/* The route table: method and path (with {id} segments) to an operation and the steps it
 * needs. 404 and 405 (with Allow) are decided here, before anything else, and every error an
 * operation returns is rendered here, once. */
#ifndef LEADLISTS_ROUTE_H
#define LEADLISTS_ROUTE_H

#include "op.h"
#include "request.h"

/* Handles one request from routing to the answer. */
void route_dispatch(struct request *r, struct app *app);

#endif
