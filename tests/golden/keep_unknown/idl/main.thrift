struct Versioned {
    1: i32 known,
    2: optional string also_known,
}
