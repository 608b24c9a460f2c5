# Layers above the core. Empty for now: the node runtime, the POSIX port and the host side are
# added here as they come; tools link ${SW_NODE_LIBS} / ${SW_HOST_LIBS}.
set(SW_NODE_LIBS "")
set(SW_HOST_LIBS "")
