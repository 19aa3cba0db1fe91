/* The program's side of data-parallel training (docs/distributed.md): the
 * one file that talks to MPI (cli/dist.c, built with -DND_MPI=ON), behind
 * the library's nd_comm hook (include/neurodyn/distributed.h).
 *
 *   nd_cli_dist_start   called by nd_run_begin: when the process was started
 *                       by mpirun / srun (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 *                       PMIX_RANK), MPI_Init and an nd_comm over
 *                       MPI_COMM_WORLD; alone, *comm = NULL.  A build
 *                       without MPI started as several processes exits 2.
 *   nd_cli_dist_agree   the largest exit code over the ranks (a collective)
 *   nd_cli_dist_finish  at the end of a train command: MPI_Finalize when
 *                       every rank ends alike (0, or a code they agreed on:
 *                       rank 0 exits with it, the others with 0), else
 *                       MPI_Abort, which ends the other ranks too.
 *
 * A rank that dies: mpirun ends the job (Open MPI kills the others when a
 * process exits without MPI_Finalize); under launchers that do not, every
 * collective gives up after ND_MPI_TIMEOUT seconds (default 600) with a
 * message naming the rank, and aborts the job. */
#ifndef NEURODYN_CLI_DIST_H
#define NEURODYN_CLI_DIST_H

#include <stdbool.h>

#include "neurodyn/distributed.h"

int nd_cli_dist_start(const char *cmd, nd_comm **comm);
/* Before a command runs: started as several processes, any command but the
 * trainers that can share minibatches (through the run driver: train krotov,
 * krotov-top, mlp, mlp-baseline; each may still refuse some settings)
 * exits 2 saying it cannot run data-parallel (rank 0 prints), so that N
 * copies of a one-process command do not write one --out.  Returns 0 or 2.
 * A new data-parallel trainer is added to the list in dist.c. */
int nd_cli_dist_guard(const char *verb, const char *name);
/* First thing in main: started by mpirun / srun as several processes with
 * more OpenMP threads on the node than cores (ranks on the node x threads
 * per rank > cores, or more threads than the cores the rank is bound to),
 * and no OMP_WAIT_POLICY or GOMP_SPINCOUNT set, re-executes the program with
 * OMP_WAIT_POLICY=passive: libgomp reads it once, when it is loaded, and its
 * default (spinning at barriers) lets waiting threads take the cores that the
 * other ranks need (docs/distributed.md).  ND_OMP_NO_REEXEC=1: keep the
 * default.  Returns only when it does not re-execute. */
void nd_cli_dist_omp_policy(char **argv);
int nd_cli_dist_agree(int rc);
/* Marks rc as an end every rank reaches alike (a collective decided it). */
void nd_cli_dist_agreed(int rc);
/* Returns the exit code: rc, or 0 on ranks other than 0 for an agreed
 * non-zero end (rank 0 carries it). */
int nd_cli_dist_finish(int rc);
/* "Open MPI 4.1.4" or "none" (the build's MPI). */
const char *nd_cli_dist_library(void);

#endif
