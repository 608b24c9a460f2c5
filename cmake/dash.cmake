# swarm dashboard (src/host/dash*.c): libwebsockets on the host's libuv loop, and the web page
# (web/) compiled into the swarm binary.
#
# The page's plotting library (uPlot) comes from the npm registry: web/package.json and
# web/package-lock.json pin it, scripts/setup (or this step, when web/node_modules is missing)
# runs `npm ci` in web/. Nothing is fetched at run time. Without npm or without the registry
# the dashboard still builds, without the plot: the build says so in a warning, the page
# shows "plot library not bundled" where the chart would be and `swarm dashboard` prints it
# at start (docs/DESIGN.md, Dashboard). Under CI=true the dashboard's end-to-end test fails
# in that case (tests/e2e/test_dashboard.py).
pkg_check_modules(LWS REQUIRED IMPORTED_TARGET libwebsockets)
target_link_libraries(swarm_host PUBLIC PkgConfig::LWS)

set(SW_WEB ${CMAKE_SOURCE_DIR}/web)
set(SW_UPLOT_JS ${SW_WEB}/node_modules/uplot/dist/uPlot.iife.min.js)
set(SW_UPLOT_CSS ${SW_WEB}/node_modules/uplot/dist/uPlot.min.css)
if(NOT EXISTS ${SW_UPLOT_JS})
  find_program(SW_NPM npm)
  if(SW_NPM)
    message(STATUS "dashboard: web/node_modules missing, running npm ci in web/")
    execute_process(COMMAND ${SW_NPM} ci --no-audit --no-fund WORKING_DIRECTORY ${SW_WEB}
                    RESULT_VARIABLE SW_NPM_RC OUTPUT_QUIET ERROR_VARIABLE SW_NPM_ERR)
    if(NOT SW_NPM_RC EQUAL 0)
      message(WARNING "dashboard: `npm ci` in web/ failed (${SW_NPM_RC}): ${SW_NPM_ERR}")
    endif()
  endif()
endif()
if(EXISTS ${SW_UPLOT_JS})
  set(SW_DASH_PLOT 1)
else()
  set(SW_DASH_PLOT 0)
  message(WARNING "dashboard: the plotting library (uPlot, from the npm registry) is missing: "
                  "`swarm dashboard` is built WITHOUT the live plot. Install node + npm and run "
                  "scripts/setup (it runs `npm ci` in web/), then build again.")
endif()
target_compile_definitions(swarm_host PRIVATE SW_DASH_PLOT=${SW_DASH_PLOT})

set(SW_DASH_FILES index.html=${SW_WEB}/index.html app.js=${SW_WEB}/app.js app.css=${SW_WEB}/app.css
                  uplot.js=${SW_UPLOT_JS} uplot.css=${SW_UPLOT_CSS}
                  uplot-LICENSE.txt=${SW_WEB}/node_modules/uplot/LICENSE) # MIT: its notice goes with it
set(SW_DASH_DEPS ${SW_WEB}/index.html ${SW_WEB}/app.js ${SW_WEB}/app.css ${CMAKE_SOURCE_DIR}/cmake/embed.cmake)
if(SW_DASH_PLOT)
  list(APPEND SW_DASH_DEPS ${SW_UPLOT_JS} ${SW_UPLOT_CSS} ${SW_WEB}/node_modules/uplot/LICENSE)
endif()
string(REPLACE ";" "," SW_DASH_FILES_ARG "${SW_DASH_FILES}")
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/dash_assets.c
                   COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_BINARY_DIR}/dash_assets.c
                           -DFILES=${SW_DASH_FILES_ARG} -P ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
                   DEPENDS ${SW_DASH_DEPS}
                   COMMENT "dashboard: embedding web/ into the swarm binary" VERBATIM)
target_sources(swarm_host PRIVATE ${CMAKE_BINARY_DIR}/dash_assets.c)
