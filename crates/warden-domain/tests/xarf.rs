use warden_domain::xarf::parse_v3_all;
#[test]
fn dump() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/xarf/abusix_v3");
    for sub in ["samples", "negative"] {
        let mut names: Vec<_> = std::fs::read_dir(format!("{dir}/{sub}")).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            let r = parse_v3_all(&std::fs::read(&p).unwrap());
            match r {
                Ok(x) => println!("OK {} {:?} {} | {} | {:?} | {:?}", p.file_name().unwrap().to_string_lossy(), x.category, x.target, x.summary, x.reporter_org, x.reporter_contact),
                Err(es) => { println!("ERR {}", p.file_name().unwrap().to_string_lossy()); for e in es { println!("    {} {} {}", e.code, e.field, e.message); } }
            }
        }
    }
}
