/* The rrvm version, recorded in every trace. */
#ifndef RRVM_HV_VERSION_H
#define RRVM_HV_VERSION_H
#define RRVM_VERSION_STRING "0.2.0"
#endif
