-- A store's order numbers are unique at central, yet two nodes may number its sales for a while when it
-- moves city: the old node until it hears of the move, the new one from then on. Each move starts a new
-- epoch (bumped by a trigger in capture.sql), and a node numbers the store's sales epoch·10⁹ + n, so the
-- two nodes' numbers can never meet. A store that never moves keeps numbering 1, 2, 3…
ALTER TABLE stores ADD COLUMN order_epoch integer NOT NULL DEFAULT 0 CHECK (order_epoch >= 0);
