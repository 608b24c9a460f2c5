// flashfs bench: operations per CPU-second and write amplification (bytes programmed per byte
// of payload, erases per operation) of flashfs on a simulated NOR flash in RAM (so the figures
// are the file system's own cost, not a flash chip's), beside the same operations on the POSIX
// file system of a directory (tmpfs: /dev/shm) as a reference. Printed as lines
//   ops <impl> <workload> <ops per CPU-second> [<programmed bytes per payload byte> <erases per op>]
// Usage: bench_flashfs [-t SECONDS_PER_RUN] [-n RUNS] [-d DIR]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/unit/ffs_sim.h"

#define SMALL 256          // bytes of a small file
#define LARGE (256 * 1024) // bytes of a large file
#define CHUNK 512          // bytes per write or read call, as the node's FTP and f app use

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint8_t data[LARGE];
static ffs_sim_t sim;
static sw_ffs_t fs;
static char dir[256];

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_flashfs: %s failed (%d)\n", what, r);
    exit(1);
}

// --- one operation of each workload, flashfs and POSIX

static void ffs_atomic(int i)
{
    int h, r;
    if ((r = sw_ffs_open(&fs, "cfg.tmp", SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &h)) ||
        (r = sw_ffs_write(&fs, h, 0, data + i % 64, SMALL)) != SMALL ||
        (r = sw_ffs_close(&fs, h)) || (r = sw_ffs_rename(&fs, "cfg.tmp", "cfg")))
        die("flashfs atomic write", r);
}

static void posix_atomic(int i)
{
    char tmp[300], dst[300];
    snprintf(tmp, sizeof tmp, "%s/cfg.tmp", dir);
    snprintf(dst, sizeof dst, "%s/cfg", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || pwrite(fd, data + i % 64, SMALL, 0) != SMALL || fsync(fd) || close(fd) ||
        rename(tmp, dst))
        die("posix atomic write", -1);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    fsync(d), close(d); // as the POSIX port does after a rename
}

static void ffs_create_unlink(int i)
{
    char name[32];
    int h, r;
    snprintf(name, sizeof name, "f%d", i % 16);
    if ((r = sw_ffs_open(&fs, name, SW_O_WRITE | SW_O_CREATE | SW_O_EXCL, &h)) ||
        (r = sw_ffs_write(&fs, h, 0, data, SMALL)) != SMALL || (r = sw_ffs_close(&fs, h)) ||
        (r = sw_ffs_unlink(&fs, name)))
        die("flashfs create+unlink", r);
}

static void posix_create_unlink(int i)
{
    char name[300];
    snprintf(name, sizeof name, "%s/f%d", dir, i % 16);
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 || pwrite(fd, data, SMALL, 0) != SMALL || fsync(fd) || close(fd) || unlink(name))
        die("posix create+unlink", -1);
}

static void ffs_large_write(int i)
{
    int h, r;
    (void)i;
    if ((r = sw_ffs_open(&fs, "big", SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &h)))
        die("flashfs open", r);
    for (int off = 0; off < LARGE; off += CHUNK)
        if ((r = sw_ffs_write(&fs, h, (uint64_t)off, data + off, CHUNK)) != CHUNK)
            die("flashfs write", r);
    if ((r = sw_ffs_close(&fs, h)))
        die("flashfs close", r);
}

static void posix_large_write(int i)
{
    char name[300];
    (void)i;
    snprintf(name, sizeof name, "%s/big", dir);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    for (int off = 0; fd >= 0 && off < LARGE; off += CHUNK)
        if (pwrite(fd, data + off, CHUNK, off) != CHUNK)
            die("posix write", -1);
    if (fd < 0 || fsync(fd) || close(fd))
        die("posix large write", -1);
}

static void ffs_large_read(int i)
{
    static uint8_t buf[CHUNK];
    int h, r;
    (void)i;
    if ((r = sw_ffs_open(&fs, "big", SW_O_READ, &h)))
        die("flashfs open", r);
    for (int off = 0; off < LARGE; off += CHUNK)
        if ((r = sw_ffs_read(&fs, h, (uint64_t)off, buf, CHUNK)) != CHUNK ||
            memcmp(buf, data + off, CHUNK))
            die("flashfs read", r);
    sw_ffs_close(&fs, h);
}

static void posix_large_read(int i)
{
    static uint8_t buf[CHUNK];
    char name[300];
    (void)i;
    snprintf(name, sizeof name, "%s/big", dir);
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    for (int off = 0; fd >= 0 && off < LARGE; off += CHUNK)
        if (pread(fd, buf, CHUNK, off) != CHUNK || memcmp(buf, data + off, CHUNK))
            die("posix read", -1);
    if (fd < 0 || close(fd))
        die("posix large read", -1);
}

typedef struct wl {
    const char *name;
    void (*ffs)(int), (*posix)(int);
    double payload; // bytes written per operation
} wl_t;

static const wl_t wls[] = {
    {"small_atomic", ffs_atomic, posix_atomic, SMALL},
    {"small_create_unlink", ffs_create_unlink, posix_create_unlink, SMALL},
    {"large_write", ffs_large_write, posix_large_write, LARGE},
    {"large_read", ffs_large_read, posix_large_read, 0},
};

// Best ops per CPU-second over runs of secs each.
static double measure(void (*op)(int), double secs, int runs, long *count)
{
    double best = 0;
    long total = 0;
    for (int r = 0; r < runs; r++) {
        long n = 0;
        double t0 = cpu_now(), t;
        do
            op((int)(total + n++));
        while ((t = cpu_now() - t0) < secs);
        total += n;
        if (n / t > best)
            best = n / t;
    }
    *count = total;
    return best;
}

int main(int argc, char **argv)
{
    double secs = 0.3;
    int runs = 3;
    snprintf(dir, sizeof dir, "/dev/shm");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t"))
            secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-n"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d"))
            snprintf(dir, sizeof dir, "%s", argv[i + 1]);
    }
    char tmpl[sizeof dir];
    if (snprintf(tmpl, sizeof tmpl, "%s/swarm-bench-ffs.XXXXXX", dir) >= (int)sizeof tmpl)
        die("directory name", -1);
    if (!mkdtemp(tmpl))
        die("mkdtemp", -1);
    memcpy(dir, tmpl, sizeof dir);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    // 1 MiB of NOR flash: 4 KiB erase blocks, 16-byte program units (an MCU's internal flash)
    ffs_sim_init(&sim, 16, 16, 4096, 256);
    if (sw_ffs_format(&fs, &sim.bd) || sw_ffs_mount(&fs, &sim.bd))
        die("format", -1);
    printf("geometry 4096 256 16 16\n");
    for (size_t w = 0; w < sizeof wls / sizeof wls[0]; w++) {
        long n;
        uint64_t p0 = sim.prog_bytes, e0 = sim.nerase;
        double f = measure(wls[w].ffs, secs, runs, &n);
        double amp = wls[w].payload ? (double)(sim.prog_bytes - p0) / (wls[w].payload * n) : 0;
        printf("ops flashfs %s %.1f %.3f %.3f\n", wls[w].name, f, amp,
               (double)(sim.nerase - e0) / n);
        double p = measure(wls[w].posix, secs, runs, &n);
        printf("ops posix %s %.1f\n", wls[w].name, p);
    }
    uint32_t used, total;
    sw_ffs_usage(&fs, &used, &total);
    printf("ram %zu\n", sizeof(sw_ffs_t));
    char name[300];
    snprintf(name, sizeof name, "%s/big", dir), unlink(name);
    snprintf(name, sizeof name, "%s/cfg", dir), unlink(name);
    rmdir(dir);
    ffs_sim_free(&sim);
    return 0;
}
