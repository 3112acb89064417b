# Runs PROGRAM with ARGS (a ;-list) and fails unless it exits 0 and its last stdout line is EXPECTED
# (or the first line of the file EXPECTED_FILE).
#   cmake -DPROGRAM=... -DARGS=a;b -DEXPECTED=... -P check_last_line.cmake
#   cmake -DPROGRAM=... -DARGS=a;b -DEXPECTED_FILE=... -P check_last_line.cmake
if(DEFINED EXPECTED_FILE)
  file(STRINGS "${EXPECTED_FILE}" expected_lines LIMIT_COUNT 1)
  if("${expected_lines}" STREQUAL "")
    message(FATAL_ERROR "cannot read an expected line from ${EXPECTED_FILE}")
  endif()
  list(GET expected_lines 0 EXPECTED)
endif()
execute_process(COMMAND ${PROGRAM} ${ARGS} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(STRIP "${out}" stripped)
string(FIND "${stripped}" "\n" last_newline REVERSE)
math(EXPR first "${last_newline} + 1")
string(SUBSTRING "${stripped}" ${first} -1 last_line)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
if(NOT last_line STREQUAL EXPECTED)
  message(FATAL_ERROR "last line: '${last_line}'\nexpected:  '${EXPECTED}'")
endif()
