// CPU feature detection and the one global choice of instruction set.
//
// The kernel library is compiled three times over for its hot loops (baseline x86-64, AVX2+FMA, AVX-512);
// active_isa() says which of those runs. It is chosen once, from cpuid, the first time it is asked for,
// and can be forced (pynn reads PYNN_ISA at import and calls set_isa) so that the tests check every path.
#pragma once

namespace pynn {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
bool cpu_supports(Isa isa);   // the CPU has every subset the ISA's files use, and the OS saves its registers
Isa best_isa();               // the fastest ISA this CPU supports
Isa active_isa();             // the ISA in use
// Force an ISA by name ("generic", "avx2", "avx512").
// Returns 0 on success, -1 for an unknown name, -2 when this CPU or build cannot run it.
int set_isa(const char* name);

}  // namespace pynn
