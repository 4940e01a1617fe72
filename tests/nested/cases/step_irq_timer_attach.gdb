# Steps that step and continues that progress with a timer interrupt
# pending at every resume (checks in step_irq_timer.py).
python
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["RUN_GUEST_SRC"], "tests/nested/cases"))
import step_irq_timer
step_irq_timer.run()
end
detach
