// swarm-node: the device agent.
#include <stdio.h>
#include <string.h>

#include "swarm/sw.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("swarm-node %s\n", SW_VERSION_STRING);
        return 0;
    }
    printf("usage: swarm-node --root DIR [options]\n");
    return argc > 1 ? 2 : 0;
}
