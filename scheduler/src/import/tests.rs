//! Tests of the unit-file reader: a broken row or a missing parent named by line and column, too deep a chain refused, paths built whatever the row order.

use super::*;

#[test]
fn a_broken_row_names_its_line_and_column() {
    let csv = "code,parent_code,level,division_type,name\n25,,province,tỉnh,Tỉnh Phú Thọ\n227,25,borough,thành phố,Thành phố Việt Trì\n";
    match parse_csv(csv.as_bytes()) {
        Err(Error::Import { line, column, .. }) => {
            assert_eq!((line, column.as_str()), (3, "level"))
        }
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[test]
fn a_missing_parent_is_named() {
    let csv =
        "code,parent_code,level,division_type,name\n227,25,district,thành phố,Thành phố Việt Trì\n";
    let rows = parse_csv(csv.as_bytes()).unwrap();
    match paths(&rows) {
        Err(Error::Import { line, column, .. }) => {
            assert_eq!((line, column.as_str()), (2, "parent_code"))
        }
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[test]
fn a_chain_deeper_than_any_tree_is_refused() {
    let mut csv = String::from("code,parent_code,level,division_type,name\n1,,province,tỉnh,A\n");
    for i in 2..40 {
        csv.push_str(&format!("{i},{},commune,xã,X{i}\n", i - 1));
    }
    let rows = parse_csv(csv.as_bytes()).unwrap();
    match paths(&rows) {
        Err(Error::Import {
            column, message, ..
        }) => {
            assert_eq!(column, "parent_code");
            assert!(message.contains("deeper"), "{message}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[test]
fn paths_follow_parents_in_any_order() {
    let csv = "code,parent_code,level,division_type,name\n08000,240,commune,xã,Xã A\n240,25,district,huyện,Huyện Tân Sơn\n25,,province,tỉnh,Tỉnh Phú Thọ\n";
    let rows = parse_csv(csv.as_bytes()).unwrap();
    let p = paths(&rows).unwrap();
    assert_eq!(p[0], ("/25/240/08000/".to_string(), 2));
    assert_eq!(p[2], ("/25/".to_string(), 0));
}
