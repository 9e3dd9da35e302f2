#include <cstdio>
int main() { std::puts("recflow: under construction"); return 1; }
