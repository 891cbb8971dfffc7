// Compiles tests/pch.h once (target edgeinfer_test_pch); every test reuses the result.
