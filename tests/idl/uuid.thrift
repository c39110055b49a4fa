struct WithUuid {
    1: uuid id,
    2: list<uuid> ids,
    3: map<uuid, string> names,
    4: optional uuid maybe,
}
