struct Blob {
    1: uuid id,
    2: binary data,
    3: list<uuid> ids,
    4: map<uuid, binary> by_id,
    5: uuid fixed = "00000000-0000-0000-0000-000000000001",
}
