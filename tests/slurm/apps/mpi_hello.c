/* MPI hello for the launcher tests: rank, size, host, wall-clock start and end.
   argv[1]: seconds to sleep between the two lines (default 0). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static double now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    int rank, size, len;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    printf("HELLO rank=%d size=%d host=%s start=%.3f\n", rank, size, host, now());
    fflush(stdout);
    if (argc > 1) usleep((useconds_t)(atof(argv[1]) * 1e6));
    MPI_Barrier(MPI_COMM_WORLD);
    printf("BYE rank=%d host=%s end=%.3f\n", rank, host, now());
    MPI_Finalize();
    return 0;
}
