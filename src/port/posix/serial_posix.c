// Serial lines of the POSIX port: opens a tty without making it our controlling terminal,
// sets it raw 8N1 at a standard rate with no flow control, and hands it to the stream code
// (conn_posix.c) as an SW_CONN_SERIAL connection.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include "posix_int.h"

static const struct {
    uint32_t baud;
    speed_t code;
} rates[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
    {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
    {4000000, B4000000},
};

static int rate_code(uint32_t baud, speed_t *code)
{
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == baud) {
            *code = rates[i].code;
            return 0;
        }
    return SW_EINVAL;
}

bool sw_posix_baud_ok(uint32_t baud)
{
    speed_t code;
    return rate_code(baud, &code) == 0;
}

int sw__posix_serial_open(void *ctx, const char *dev, uint32_t baud, sw_conn_t **out)
{
    sw_posix_t *p = ctx;
    speed_t code;
    *out = NULL;
    if (!dev || !*dev || rate_code(baud ? baud : 115200, &code))
        return SW_EINVAL;
    if (p->shutdown)
        return SW_ECLOSED;
    int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sw__posix_errno(errno);
    // Two programs reading one line would each get half the bytes: refuse a line in use.
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        close(fd);
        return SW_EBUSY;
    }
    struct termios t;
    if (tcgetattr(fd, &t) < 0) {
        int err = errno == ENOTTY ? SW_EINVAL : sw__posix_errno(errno);
        close(fd);
        return err;
    }
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, code) < 0 || cfsetospeed(&t, code) < 0 ||
        tcsetattr(fd, TCSANOW, &t) < 0) {
        int err = sw__posix_errno(errno);
        close(fd);
        return err;
    }
    tcflush(fd, TCIOFLUSH); // bytes from before we owned the line are not ours
    return sw__posix_conn_fd(p, fd, SW_CONN_SERIAL, dev, out);
}
