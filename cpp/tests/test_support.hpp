// Minimal assertion helpers for the C++ unit tests (no framework): every check prints one line,
// a failing check does not stop the test case, an exception escaping a case fails it, and
// run_tests() returns the process exit code (0 only when every check passed).
//
//   PTRT_CHECK(cond)                      PTRT_CHECK_EQ(actual, expected)
//   PTRT_CHECK_NEAR(actual, expected, tolerance)
//   PTRT_CHECK_THROWS(statement, ExceptionType, "substring of what()")
//   int main() { return ptrt_test::run_tests({{"name", &test_fn}, ...}); }
//
// Allocation counting: a test binary that defines PTRT_TEST_COUNT_ALLOCATIONS before including
// this header replaces the global operator new, and AllocationCounter then counts the
// allocations made while it is alive (to prove "allocates nothing" claims).
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <new>
#include <sstream>
#include <string>
#include <utility>

namespace ptrt_test {

// Checks may run on several threads (the thread tests): the counters are atomic.
struct Totals {
  std::atomic<int> checks{0};
  std::atomic<int> failures{0};
};

inline Totals& totals() {
  static Totals t;
  return t;
}

inline bool report(bool ok, const char* file, int line, const std::string& what) {
  ++totals().checks;
  if (!ok) ++totals().failures;
  std::printf("  %s %s:%d  %s\n", ok ? "[ OK ]" : "[FAIL]", file, line, what.c_str());
  return ok;
}

template <typename T>
std::string to_text(const T& value) {
  std::ostringstream os;
  os.precision(9);
  os << value;
  return os.str();
}

template <typename A, typename B>
bool check_eq(const A& actual, const B& expected, const char* actual_text, const char* expected_text, const char* file,
              int line) {
  const bool ok = actual == expected;
  return report(ok, file, line,
                std::string(actual_text) + " == " + expected_text + "  (actual " + to_text(actual) + ", expected " +
                    to_text(expected) + ")");
}

inline bool check_near(double actual, double expected, double tolerance, const char* actual_text,
                       const char* expected_text, const char* file, int line) {
  const double diff = std::fabs(actual - expected);
  const bool ok = diff <= tolerance;  // false for NaN
  return report(ok, file, line,
                std::string(actual_text) + " ~= " + expected_text + "  (actual " + to_text(actual) + ", expected " +
                    to_text(expected) + ", |diff| " + to_text(diff) + ", tolerance " + to_text(tolerance) + ")");
}

inline int run_tests(std::initializer_list<std::pair<const char*, void (*)()>> tests) {
  int failed_cases = 0;
  for (const auto& test : tests) {
    std::printf("[ RUN  ] %s\n", test.first);
    const int failures_before = totals().failures;
    try {
      test.second();
    } catch (const std::exception& e) {
      report(false, __FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      report(false, __FILE__, __LINE__, "unexpected non-std exception");
    }
    const bool ok = totals().failures == failures_before;
    if (!ok) ++failed_cases;
    std::printf("[ %s ] %s\n", ok ? "PASS" : "FAIL", test.first);
  }
  std::printf("\n%d checks, %d failed; %d of %zu test cases failed\n", totals().checks.load(), totals().failures.load(), failed_cases,
              tests.size());
  return totals().failures == 0 ? 0 : 1;
}

#ifdef PTRT_TEST_COUNT_ALLOCATIONS
inline int64_t& allocation_count() {
  static int64_t count = 0;
  return count;
}
inline bool& counting_allocations() {
  static bool on = false;
  return on;
}
// Counts operator new calls while alive. Not reentrant; single-threaded tests only.
class AllocationCounter {
 public:
  AllocationCounter() {
    allocation_count() = 0;
    counting_allocations() = true;
  }
  ~AllocationCounter() { counting_allocations() = false; }
  int64_t count() const { return allocation_count(); }
};
#endif

}  // namespace ptrt_test

#define PTRT_CHECK(cond) ::ptrt_test::report(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define PTRT_CHECK_EQ(actual, expected) \
  ::ptrt_test::check_eq((actual), (expected), #actual, #expected, __FILE__, __LINE__)
#define PTRT_CHECK_NEAR(actual, expected, tolerance)                                                                  \
  ::ptrt_test::check_near(static_cast<double>(actual), static_cast<double>(expected), static_cast<double>(tolerance), \
                          #actual, #expected, __FILE__, __LINE__)
#define PTRT_CHECK_THROWS(statement, ExceptionType, substring)                                             \
  do {                                                                                                     \
    std::string ptrt_what_;                                                                                \
    bool ptrt_thrown_ = false;                                                                             \
    try {                                                                                                  \
      statement;                                                                                           \
    } catch (const ExceptionType& e) {                                                                     \
      ptrt_thrown_ = true;                                                                                 \
      ptrt_what_ = e.what();                                                                               \
    } catch (const std::exception& e) {                                                                    \
      ptrt_what_ = std::string("wrong exception type: ") + e.what();                                       \
    }                                                                                                      \
    const bool ptrt_ok_ = ptrt_thrown_ && ptrt_what_.find(substring) != std::string::npos;                 \
    ::ptrt_test::report(ptrt_ok_, __FILE__, __LINE__,                                                      \
                        std::string(#statement " throws " #ExceptionType " containing \"") + (substring) + \
                            "\"  (got: " + (ptrt_what_.empty() ? "no exception" : ptrt_what_) + ")");      \
  } while (0)

#ifdef PTRT_TEST_COUNT_ALLOCATIONS
void* operator new(std::size_t size) {
  if (::ptrt_test::counting_allocations()) ++::ptrt_test::allocation_count();
  if (size == 0) size = 1;
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
