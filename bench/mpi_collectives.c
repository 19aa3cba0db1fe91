/* Latency and bandwidth of the collectives data-parallel training uses, for
 * the scaling model of docs/distributed.md:
 *
 *   mpirun -np 2 build/release/mpi_collectives > bench/results/mpi_2ranks.jsonl
 *
 * For message sizes 8 B .. 64 MiB (per rank): MPI_Allreduce (sum of
 * doubles, what a gradient allreduce costs) and MPI_Allgather (what the
 * Krotov exchange costs), the median of repeated calls after a warm-up.
 * Prints one JSON object per size and operation on rank 0:
 *   {"bench": "mpi", "op": "allreduce", "ranks": 2, "bytes": N, "us": median}
 * Fit t = alpha + bytes / beta to the lines (bench/distributed_model.py). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const size_t max_bytes = (size_t)64 << 20;
  double *a = malloc(max_bytes), *b = malloc(max_bytes * (size_t)size);
  if (!a || !b) MPI_Abort(MPI_COMM_WORLD, 1);
  memset(a, 0, max_bytes);
  for (int op = 0; op < 2; op++)
    for (size_t bytes = 8; bytes <= max_bytes; bytes *= 4) {
      int reps = bytes <= 65536 ? 2000 : bytes <= (1 << 22) ? 100 : 10;
      double *t = malloc(sizeof(double) * (size_t)reps);
      for (int r = -reps / 10 - 1; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (op == 0)
          MPI_Allreduce(a, b, (int)(bytes / 8), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        else
          MPI_Allgather(a, (int)bytes, MPI_BYTE, b, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0, worst = 0;
        MPI_Reduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD); /* the slowest rank's time */
        if (r >= 0) t[r] = worst;
      }
      qsort(t, (size_t)reps, sizeof *t, cmp);
      if (rank == 0)
        printf("{\"bench\": \"mpi\", \"op\": \"%s\", \"ranks\": %d, \"bytes\": %zu, \"us\": %.3f, \"reps\": %d}\n",
               op ? "allgather" : "allreduce", size, bytes, 1e6 * t[reps / 2], reps);
      fflush(stdout);
      free(t);
    }
  free(a);
  free(b);
  MPI_Finalize();
  return 0;
}
