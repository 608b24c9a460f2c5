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

# The portability rule of src/core (freestanding headers only, no heap).
add_test(NAME check_core COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-core ${CMAKE_SOURCE_DIR})
set_tests_properties(check_core PROPERTIES LABELS lint)

include(${CMAKE_SOURCE_DIR}/tests/interop/interop.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/e2e/e2e.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/tests/hostile/hostile.cmake OPTIONAL)
