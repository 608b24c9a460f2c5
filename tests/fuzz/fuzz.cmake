# libFuzzer targets: every tests/fuzz/fuzz_*.c, seeded from tests/fuzz/corpus/<name>/.
# Built when SW_FUZZ=ON with clang; each gets a short ctest smoke run (`make fuzz` runs longer).
if(SW_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(SW_FUZZ_SMOKE_SECONDS 8 CACHE STRING "seconds per fuzz target in the ctest smoke run")
  file(GLOB SW_FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
  foreach(src ${SW_FUZZ_SRC})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src/core ${CMAKE_SOURCE_DIR}/tests/fuzz)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${SW_HOST_LIBS} swarm_core swarm_flashfs)
    if(name STREQUAL "fuzz_zin") # the node's inflate bounds on the POSIX port's zlib
      target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src/node ${CMAKE_SOURCE_DIR}/src/port/posix)
      target_link_libraries(${name} PRIVATE swarm_node swarm_port_posix ${SW_DEP_Z})
    endif()
    add_test(NAME ${name}_smoke
             COMMAND ${CMAKE_SOURCE_DIR}/scripts/fuzz-run $<TARGET_FILE:${name}>
                     ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name} ${SW_FUZZ_SMOKE_SECONDS})
    set_tests_properties(${name}_smoke PROPERTIES LABELS fuzz TIMEOUT 120)
  endforeach()
endif()
