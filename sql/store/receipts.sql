-- Receipts: what the till prints for a sale, numbered by print so that a reprint says it is one.
-- Called by: GET /orders/{id}/receipt (store-node/src/routes/receipts.rs), which lays it out for an
-- 80 mm printer or answers it as JSON.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Counts one more print of the store's sale and returns its receipt: NULL when the sale is not this
-- store's. Times are the store's local time; taxes are summed by rate (included in the prices, or added
-- to them, as the sale was made).
CREATE OR REPLACE FUNCTION print_receipt(p_store_id integer, p_global_order_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_order orders;
BEGIN
    UPDATE orders SET receipt_prints = receipt_prints + 1
    WHERE global_order_id = p_global_order_id AND store_id = p_store_id
    RETURNING * INTO v_order;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN (
        SELECT jsonb_build_object(
            'print_no', v_order.receipt_prints, 'reprint', v_order.receipt_prints > 1,
            'voided', EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = v_order.id AND r.kind = 'void'),
            'store', jsonb_build_object('code', s.code, 'name', s.name, 'city', c.name),
            'order_no', v_order.store_order_id, 'global_order_id', v_order.global_order_id,
            'sold_at', to_char(v_order.created_at AT TIME ZONE coalesce(c.time_zone, current_setting('TimeZone')),
                               'YYYY-MM-DD HH24:MI'),
            'cashier', t.cashier, 'terminal', t.terminal,
            'lines', (SELECT jsonb_agg(jsonb_build_object(
                          'name', p.name, 'sku', p.sku, 'quantity', i.quantity, 'unit_price', i.unit_price::text,
                          'discount', i.discount::text, 'manual_discount', i.manual_discount::text,
                          'promotion', m.name, 'tax_rate', i.tax_rate::text,
                          'line_total', i.line_total::text) ORDER BY i.line_no)
                      FROM order_items i JOIN products p ON p.id = i.product_id
                      LEFT JOIN promotions m ON m.id = i.promotion_id
                      WHERE i.order_id = v_order.id),
            -- Before discounts, and before tax where it is added at the till.
            'subtotal', (SELECT sum(i.quantity * i.unit_price) FROM order_items i WHERE i.order_id = v_order.id)::text,
            'prices_include_tax', v_order.prices_include_tax,
            'discount_total', v_order.discount_total::text, 'total', v_order.total::text,
            'taxes', (SELECT coalesce(jsonb_agg(jsonb_build_object('rate', x.rate::text, 'tax', x.tax::text)
                                                ORDER BY x.rate DESC), '[]')
                      FROM (SELECT i.tax_rate AS rate, sum(i.tax_amount) AS tax FROM order_items i
                            WHERE i.order_id = v_order.id AND i.tax_rate > 0 GROUP BY i.tax_rate) x),
            'tax_total', v_order.tax_total::text,
            'payments', (SELECT jsonb_agg(jsonb_build_object('method', pa.method, 'amount', pa.amount::text)
                                          ORDER BY pa.id)
                         FROM payments pa WHERE pa.order_id = v_order.id),
            'change_due', v_order.change_due::text)
        FROM stores s
        LEFT JOIN cities c ON c.id = s.city_id
        LEFT JOIN cashier_tokens t ON t.id = v_order.credential_id
        WHERE s.id = v_order.store_id);
END;
$$;
