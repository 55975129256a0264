package fleet_test

import (
	"testing"

	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
