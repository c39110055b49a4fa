/**
 * Doc comments on every construct, next to plain comments of all three kinds,
 * and every separator (comma, semicolon, none).
 */
namespace py docs

// A line comment is not documentation.
# Nor is a hash comment.
/* Nor a block comment. */

/** The unit of a reading. */
enum Unit {
    /** degrees Celsius */
    CELSIUS = 1;
    /** degrees Fahrenheit */
    FAHRENHEIT = 2
    KELVIN = 3,
}

/** A sensor id. */
typedef i64 SensorId

/** The largest number of readings a batch holds. */
const i32 MAX_BATCH = 500;

/**
 * One measurement.
 *
 * Blank lines inside a doc comment are kept.
 */
struct Reading {
    /** Which sensor. */
    1: SensorId sensor;
    /** When, in ms since the epoch. */
    2: i64 at
    /** The value, in `unit`. */
    3: double value,
    4: Unit unit = Unit.CELSIUS  // no doc: a trailing comment
}

/** Readings that could not be stored. */
exception Rejected {
    /** Why. */
    1: string reason;
}

/** Stores readings. */
service Recorder {
    /** Store a batch; returns how many were new. */
    i32 store(
        /** The readings, at most MAX_BATCH. */
        1: list<Reading> readings
    ) throws (
        /** The batch was refused as a whole. */
        1: Rejected rejected
    );
    /** Forget one sensor. */
    void forget(1: SensorId sensor)
}
