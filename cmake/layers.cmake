# Layers above the core.
#   swarm_node       src/node + boards/*: the portable device runtime (Lua, mbedTLS, the core)
#   swarm_port_posix src/port/posix: the libuv implementation of include/swarm/port.h
#   swarm_host       src/host: host side (links, mux, scan, push)
# The tools link ${SW_NODE_LIBS} / ${SW_HOST_LIBS}.
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)

file(GLOB SW_NODE_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/node/*.c
                                        ${CMAKE_SOURCE_DIR}/boards/*/*.c)
set(SW_NODE_LIBS "")
if(SW_NODE_SRC)
  add_library(swarm_node STATIC ${SW_NODE_SRC})
  target_include_directories(swarm_node PUBLIC ${CMAKE_SOURCE_DIR}/src/node)
  target_link_libraries(swarm_node PUBLIC swarm_core PkgConfig::LUA ${MBEDCRYPTO_LIB} m)
  list(APPEND SW_NODE_LIBS swarm_node)
endif()

file(GLOB SW_PORT_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/port/posix/*.c)
if(SW_PORT_SRC)
  add_library(swarm_port_posix STATIC ${SW_PORT_SRC})
  target_include_directories(swarm_port_posix PUBLIC ${CMAKE_SOURCE_DIR}/src/port/posix
                                              PRIVATE ${CMAKE_SOURCE_DIR}/src/node)
  target_link_libraries(swarm_port_posix PUBLIC swarm_core PkgConfig::UV PkgConfig::CJSON)
  list(APPEND SW_NODE_LIBS swarm_port_posix)
endif()

file(GLOB SW_HOST_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/host/*.c)
set(SW_HOST_LIBS "")
if(SW_HOST_SRC)
  add_library(swarm_host STATIC ${SW_HOST_SRC})
  target_include_directories(swarm_host PUBLIC ${CMAKE_SOURCE_DIR}/src/host)
  target_link_libraries(swarm_host PUBLIC swarm_core PkgConfig::UV PkgConfig::CJSON ${MBEDCRYPTO_LIB})
  list(APPEND SW_HOST_LIBS swarm_host)
endif()
