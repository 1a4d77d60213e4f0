//! Plain-text tables for the operator: `status` and the summary `up` prints.

/// The rows under the header, columns left-aligned two spaces apart; the last column is not padded,
/// so a long detail does not widen the others.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| cell.chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            match widths.get(i) {
                Some(width) => line.push_str(&format!("{cell:<width$}  ")),
                None => line.push_str(cell),
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let rows = vec![
            vec![
                "central".to_owned(),
                "1".to_owned(),
                "a long detail".to_owned(),
            ],
            vec!["x".to_owned(), "12345".to_owned(), String::new()],
        ];
        assert_eq!(
            render(&["NAME", "N", "DETAIL"], &rows),
            "NAME     N      DETAIL\ncentral  1      a long detail\nx        12345\n"
        );
    }
}
