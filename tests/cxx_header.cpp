// The umbrella header compiles as C++ and its functions link with C linkage.
#include <mproc.h>

#include <cstdio>
#include <cstring>

int main()
{
    if (std::strcmp(mproc_err_name(MPROC_EAGAIN), "MPROC_EAGAIN") != 0)
        return 1;
    if (mproc_version() != MPROC_VERSION_HEX)
        return 1;
    std::printf("mproc %s from C++\n", mproc_version_string());
    return 0;
}
