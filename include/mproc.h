/*
 * mproc.h - Python's multiprocessing, native to C on Linux.
 *
 * The one header users include. Each area has its own header under mproc/;
 * see docs/python-to-c.md for the map from Python names to these.
 */
#ifndef MPROC_H
#define MPROC_H

#include "mproc/errors.h"
#include "mproc/ref.h"
#include "mproc/process.h"
#include "mproc/shared.h"
#include "mproc/sync.h"
#include "mproc/queue.h"
#include "mproc/connection.h"
#include "mproc/buf.h"
#include "mproc/pool.h"
#include "mproc/log.h"

#endif /* MPROC_H */
