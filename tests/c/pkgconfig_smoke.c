/* Built against an installed copy with `pkg-config --cflags --libs pushbus`. */
#include <stdio.h>
#include <string.h>

#include "pushbus.h"

int main(void) {
    pushbus_bus *bus = NULL;
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", PUSHBUS_VERSION_MAJOR, PUSHBUS_VERSION_MINOR,
             PUSHBUS_VERSION_PATCH);
    int ok = pushbus_bus_new(NULL, &bus) == PUSHBUS_OK && bus != NULL &&
             strcmp(pushbus_version(), version) == 0;
    pushbus_bus_free(bus);
    printf("pkgconfig_smoke: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
