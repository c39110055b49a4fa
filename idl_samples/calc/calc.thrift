// A calculator service: what a first project with `volo init` exercises.
// It extends a service from an included file, and has a void method, a
// oneway method and a method that throws; typedefs, constants, an enum and
// a struct with defaults.
include "common.thrift"

typedef i32 Number

const Number LARGEST_OPERAND = 1000000
const map<string, string> SYMBOLS = {"PLUS": "+", "MINUS": "-", "TIMES": "*", "OVER": "/"}

enum Operator {
  PLUS = 1,
  MINUS = 2,
  TIMES = 3,
  OVER = 4,
}

/** One step: `left op right`. */
struct Expression {
  1: Number left = 0
  2: Number right = 0
  3: Operator op = Operator.PLUS
  4: optional string label
}

exception CalculationError {
  1: Operator op
  2: string reason
}

service Calculator extends common.Monitored {
  /** Returns as soon as the server is up. */
  void ping()

  /** The value of `expression`; over LARGEST_OPERAND or a division by zero throws. */
  Number evaluate(1: Expression expression) throws (1: CalculationError error)

  /** The sum of `numbers` (0 for none). */
  Number sum(1: list<Number> numbers)

  /** Forgets the results kept so far; no reply is sent. */
  oneway void reset()
}
