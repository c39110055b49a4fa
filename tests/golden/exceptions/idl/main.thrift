exception Failure {
    1: string message,
    2: required i32 code,
    3: optional map<string, string> details,
}
exception Empty {}
service S { void run() throws (1: Failure failure, 2: Empty empty) }
