# Test registration. Every tests/unit/test_*.c is a cmocka program and a ctest test of the same
# name; tests/unit/*.h are shared helpers. Other suites register themselves below.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

file(GLOB SW_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${SW_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit ${CMAKE_SOURCE_DIR}/src/core)
  target_link_libraries(${name} PRIVATE ${SW_HOST_LIBS} swarm_core swarm_flashfs PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
endforeach()
# swarm/sha256.h once more on the inline mbedTLS the firmware uses (test_sha256 above: libcrypto)
add_executable(test_sha256_mbedtls ${CMAKE_SOURCE_DIR}/tests/unit/test_sha256.c)
set_target_properties(test_sha256_mbedtls PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
target_link_libraries(test_sha256_mbedtls PRIVATE swarm_core ${SW_DEP_MBEDCRYPTO} PkgConfig::CMOCKA)
add_test(NAME test_sha256_mbedtls COMMAND test_sha256_mbedtls)
set_tests_properties(test_sha256_mbedtls PROPERTIES LABELS unit TIMEOUT 300)
# The POSIX port's component walk, for kernels without openat2 (a test hook makes this one
# pretend it has none)
if(SW_TEST_HOOKS)
  add_test(NAME test_port_fs_walk COMMAND test_port_fs)
  set_tests_properties(test_port_fs_walk PROPERTIES LABELS unit TIMEOUT 300
                       ENVIRONMENT SW_TEST_NO_OPENAT2=1)
endif()

# The whole node on a simulated port (tests/node: virtual clock, scripted link, RAM fs).
file(GLOB SW_NODE_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/node/test_node_*.c)
if(TARGET swarm_node)
  foreach(src ${SW_NODE_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/tests/node/sim_port.c)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/node)
    target_link_libraries(${name} PRIVATE swarm_node swarm_core PkgConfig::CMOCKA)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
  endforeach()
  # The same tests against the node built with the mcu-full profile (profile.h: small buffers,
  # fixed link input, MCU defaults), on the host.
  file(GLOB SW_NODE_MCU_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/node/*.c)
  add_library(swarm_node_mcu STATIC ${SW_NODE_MCU_SRC})
  target_compile_definitions(swarm_node_mcu PUBLIC SW_PROFILE=SW_PROFILE_MCU_FULL)
  target_include_directories(swarm_node_mcu PUBLIC ${CMAKE_SOURCE_DIR}/src/node)
  target_link_libraries(swarm_node_mcu PUBLIC swarm_auth swarm_core ${SW_DEP_LUA} ${SW_DEP_MBEDCRYPTO} m)
  foreach(src ${SW_NODE_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name}_mcu ${src} ${CMAKE_SOURCE_DIR}/tests/node/sim_port.c)
    set_target_properties(${name}_mcu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
    target_include_directories(${name}_mcu PRIVATE ${CMAKE_SOURCE_DIR}/tests/node)
    target_link_libraries(${name}_mcu PRIVATE swarm_node_mcu swarm_core PkgConfig::CMOCKA)
    add_test(NAME ${name}_mcu COMMAND ${name}_mcu)
    set_tests_properties(${name}_mcu PROPERTIES LABELS unit TIMEOUT 300)
  endforeach()
endif()

# The RAM fs of the simulated port against the file-system conformance suite (fs_conform.h).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/fs_conform.h)
  add_executable(test_sim_fs ${CMAKE_SOURCE_DIR}/tests/node/test_sim_fs.c ${CMAKE_SOURCE_DIR}/tests/node/sim_port.c)
  set_target_properties(test_sim_fs PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
  target_include_directories(test_sim_fs PRIVATE ${CMAKE_SOURCE_DIR}/tests/node ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(test_sim_fs PRIVATE swarm_node swarm_core PkgConfig::CMOCKA)
  add_test(NAME test_sim_fs COMMAND test_sim_fs)
  set_tests_properties(test_sim_fs PROPERTIES LABELS unit TIMEOUT 300)
endif()

# The portability rule of src/core (freestanding headers only, no heap).
add_test(NAME check_core COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-core ${CMAKE_SOURCE_DIR})
set_tests_properties(check_core PROPERTIES LABELS lint)
# The node's: allowed headers only, mcu-full and mcu-serial cross-compile for Cortex-M3 with
# -Werror, no stack frame over 1 KB (scripts/check-node-mcu).
add_test(NAME check_node_mcu COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-node-mcu ${CMAKE_SOURCE_DIR})
set_tests_properties(check_node_mcu PROPERTIES LABELS lint TIMEOUT 300)

include(${CMAKE_SOURCE_DIR}/tests/interop/interop.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/e2e/e2e.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/mcu/mcu.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/hostile/hostile.cmake OPTIONAL)
