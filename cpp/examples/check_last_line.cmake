# Runs PROGRAM with ARGS (a ;-list) and fails unless it exits 0 and its last stdout line is EXPECTED.
#   cmake -DPROGRAM=... -DARGS=a;b -DEXPECTED=... -P check_last_line.cmake
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
