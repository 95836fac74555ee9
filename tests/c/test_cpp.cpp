// The header compiles as C++ and survives being included twice.
#include "pushbus.h"
#include "pushbus.h"

#include <cstdio>
#include <cstring>

int main() {
    pushbus_bus *bus = nullptr;
    if (pushbus_bus_new(nullptr, &bus) != PUSHBUS_OK) {
        return 1;
    }
    pushbus_key key{};
    const char *topic = "cpp";
    int ok = pushbus_publish(bus, topic, std::strlen(topic), nullptr, 0, PUSHBUS_PAYLOAD_TEXT,
                             reinterpret_cast<const uint8_t *>("x"), 1, &key) == PUSHBUS_OK &&
             key.seq == 1;
    pushbus_bus_free(bus);
    std::printf("test_cpp: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
