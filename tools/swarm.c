// swarm: the host command-line tool (git-style subcommands).
#include <stdio.h>
#include <string.h>

#include "swarm/sw.h"

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("swarm %s\n", SW_VERSION_STRING);
        return 0;
    }
    printf("usage: swarm <command> [options]\n");
    return argc > 1 ? 2 : 0;
}
