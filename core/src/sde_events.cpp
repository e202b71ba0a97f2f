// libspill-sde-events.so: lets papi_native_avail list spill's software-defined
// events (`papi_native_avail -sde PATH/libspill-sde-events.so`). The tool
// opens the shared object and calls this hook with its own table of SDE
// functions; the registration is the one the pools use (detail/sde.hpp), so
// the names and descriptions cannot differ. Nothing else links this object.
#include <spill/detail/sde.hpp>

static_assert(spill::sde::enabled, "built only with the sde feature on");

extern "C" papi_handle_t papi_sde_hook_list_events(papi_sde_fptr_struct_t* api) {
    return api != nullptr ? spill::sde::register_events_with(*api, true) : nullptr;
}
