/** Included as `int`, which the generated code also uses for integers. */
struct Number {
    1: i64 value,
}

const i32 ANSWER = 42
