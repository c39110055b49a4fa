/**
 * The smallest useful service: it sends back what it is sent.
 */
namespace py echo

/** A message to echo. */
struct EchoRequest {
    1: required string message,
    /** How many times to repeat the message. */
    2: optional i32 times = 1,
}

struct EchoResponse {
    1: required string message,
}

exception EchoError {
    1: string reason,
}

service Echo {
    /** Returns the request's message, repeated `times` times. */
    EchoResponse echo(1: EchoRequest request) throws (1: EchoError error),
}
