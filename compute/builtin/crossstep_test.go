package builtin_test

import "testing"

// TestCrossStepCoversAll: checkCross's thinning under make test never
// leaves an input or an argv out of a table: each meets at least one of
// the other side. (A table of 2 argvs by 1,500 inputs once ran no case
// on a third of its inputs, those whose index left 2 by 3.)
func TestCrossStepCoversAll(t *testing.T) {
	for _, size := range [][2]int{{1, 300}, {300, 1}, {2, 1500}, {1500, 2}, {2, 150}, {3, 700}, {18, 203}, {6, 600}, {600, 6}, {5, 5}} {
		ni, na := size[0], size[1]
		step := crossStep(ni, na, false)
		inMet, argvMet := make([]bool, ni), make([]bool, na)
		for i := range na {
			for j := range ni {
				if (i+j)%step == 0 {
					inMet[j], argvMet[i] = true, true
				}
			}
		}
		for j, ok := range inMet {
			if !ok {
				t.Errorf("%d inputs × %d argvs, step %d: input %d meets no argv", ni, na, step, j)
				break
			}
		}
		for i, ok := range argvMet {
			if !ok {
				t.Errorf("%d inputs × %d argvs, step %d: argv %d meets no input", ni, na, step, i)
				break
			}
		}
	}
	if crossStep(18, 203, false) != 6 || crossStep(5, 700, false) != 3 || crossStep(10, 250, false) != 3 || crossStep(8, 31, false) != 2 || crossStep(4, 15, false) != 1 || crossStep(18, 203, true) != 1 {
		t.Error("crossStep no longer thins the tables it did")
	}
}
