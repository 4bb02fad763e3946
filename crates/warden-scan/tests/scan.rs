#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! DET-1: the scanner matches page text against per-category lexicons after normalisation that
//! defeats full-width/half-width, traditional/simplified, case and filler characters inserted
//! between the characters of a word.

use std::sync::Arc;

use warden_scan::{
    Entry, Lexicon, LexiconError, Near, Scanner, Verdict, default_lexicon, normalise,
    normalise_term,
};

fn lexicon() -> Lexicon {
    let mut entries = vec![
        Entry::new("gambling", "赌场"),
        Entry::new("gambling", "百家乐"),
        Entry::new("gambling", "六合彩"),
        Entry::new("gambling", "online casino"),
        Entry::new("gambling", "casino"),
        Entry::new("gambling", "sports betting"),
        Entry::new("fraud", "刷单返利"),
        Entry::new("fraud", "杀猪盘"),
        Entry::new("fraud", "verify your account"),
        Entry::new("porn_vulgar", "一夜情"),
        Entry::new("porn_vulgar", "porn"),
        Entry::new("violence_terror", "出售手枪"),
        Entry::new("violence_terror", "炸药配方"),
        Entry::new("spam_ads", "代开发票"),
    ];
    entries.push(Entry {
        category: "fraud".into(),
        term: "安全账户".into(),
        weight: 2.0,
        near: Some(Near {
            term: "转账".into(),
            within_chars: 10,
        }),
    });
    Lexicon {
        version: 7,
        entries,
    }
}

fn scanner() -> Scanner {
    Scanner::build(&lexicon()).unwrap()
}

/// The hit of `category` whose term is `term`, if any.
fn hit<'a>(v: &'a Verdict, category: &str, term: &str) -> Option<&'a warden_scan::Hit> {
    v.categories
        .iter()
        .find(|c| c.category == category)?
        .hits
        .iter()
        .find(|h| h.term == term)
}

#[test]
fn det1_evasion_table() {
    let s = scanner();
    // (page text, category, lexicon term, what the page really said)
    let cases: &[(&str, &str, &str, &str)] = &[
        // plain
        ("欢迎来到赌场玩", "gambling", "赌场", "赌场"),
        (
            "welcome to our Casino tonight",
            "gambling",
            "casino",
            "Casino",
        ),
        // split by spaces
        ("来 赌 场 玩", "gambling", "赌场", "赌 场"),
        ("百 家 乐 开户", "gambling", "百家乐", "百 家 乐"),
        ("best c a s i n o here", "gambling", "casino", "c a s i n o"),
        ("刷 单 返 利 日结", "fraud", "刷单返利", "刷 单 返 利"),
        // split by punctuation
        ("去赌 . 场", "gambling", "赌场", "赌 . 场"),
        ("六-合-彩开奖", "gambling", "六合彩", "六-合-彩"),
        ("杀，猪。盘", "fraud", "杀猪盘", "杀，猪。盘"),
        ("c.a.s.i.n.o", "gambling", "casino", "c.a.s.i.n.o"),
        ("出售/手/枪", "violence_terror", "出售手枪", "出售/手/枪"),
        ("代_开_发_票", "spam_ads", "代开发票", "代_开_发_票"),
        ("《一夜情》", "porn_vulgar", "一夜情", "一夜情"),
        ("炸药【配方】", "violence_terror", "炸药配方", "炸药【配方"),
        ("p*o*r*n videos", "porn_vulgar", "porn", "p*o*r*n"),
        // zero-width characters
        ("赌\u{200B}场", "gambling", "赌场", "赌\u{200B}场"),
        (
            "百\u{200C}家\u{200D}乐",
            "gambling",
            "百家乐",
            "百\u{200C}家\u{200D}乐",
        ),
        (
            "ca\u{2060}si\u{FEFF}no",
            "gambling",
            "casino",
            "ca\u{2060}si\u{FEFF}no",
        ),
        ("杀\u{FE0F}猪盘", "fraud", "杀猪盘", "杀\u{FE0F}猪盘"),
        // emoji and pictographs
        ("赌🎰场", "gambling", "赌场", "赌🎰场"),
        ("六💰合💰彩", "gambling", "六合彩", "六💰合💰彩"),
        ("cas🃏ino", "gambling", "casino", "cas🃏ino"),
        ("刷单❤️返利", "fraud", "刷单返利", "刷单❤️返利"),
        ("赌👨‍👩‍👧场", "gambling", "赌场", "赌👨‍👩‍👧场"),
        ("杀★★★猪盘", "fraud", "杀猪盘", "杀★★★猪盘"),
        // full-width forms
        ("ＣＡＳＩＮＯ", "gambling", "casino", "ＣＡＳＩＮＯ"),
        (
            "ｏｎｌｉｎｅ　ｃａｓｉｎｏ",
            "gambling",
            "online casino",
            "ｏｎｌｉｎｅ　ｃａｓｉｎｏ",
        ),
        ("ｐｏｒｎ", "porn_vulgar", "porn", "ｐｏｒｎ"),
        (
            "ｖｅｒｉｆｙ ｙｏｕｒ ａｃｃｏｕｎｔ",
            "fraud",
            "verify your account",
            "ｖｅｒｉｆｙ ｙｏｕｒ ａｃｃｏｕｎｔ",
        ),
        // traditional forms
        ("歡迎光臨賭場", "gambling", "赌场", "賭場"),
        ("百家樂開戶", "gambling", "百家乐", "百家樂"),
        ("六合綵", "gambling", "六合彩", "六合綵"),
        ("殺豬盤", "fraud", "杀猪盘", "殺豬盤"),
        ("出售手槍", "violence_terror", "出售手枪", "出售手槍"),
        ("代開發票", "spam_ads", "代开发票", "代開發票"),
        ("一夜情", "porn_vulgar", "一夜情", "一夜情"),
        // mixed case
        ("CaSiNo Royale", "gambling", "casino", "CaSiNo"),
        (
            "Sports Betting tips",
            "gambling",
            "sports betting",
            "Sports Betting",
        ),
        ("PORN", "porn_vulgar", "porn", "PORN"),
        (
            "Verify Your Account now",
            "fraud",
            "verify your account",
            "Verify Your Account",
        ),
        // Latin homoglyphs
        ("\u{0441}asino", "gambling", "casino", "\u{0441}asino"),
        ("саsіnо", "gambling", "casino", "саsіnо"),
        ("сasinο", "gambling", "casino", "сasinο"),
        ("рorn", "porn_vulgar", "porn", "рorn"),
        (
            "vеrify yоur аccоunt",
            "fraud",
            "verify your account",
            "vеrify yоur аccоunt",
        ),
        // combinations
        ("Ｃ-а-ｓ-і-n-o 🎰", "gambling", "casino", "Ｃ-а-ｓ-і-n-o"),
        ("賭 ❤️ 場", "gambling", "赌场", "賭 ❤️ 場"),
        ("cásino", "gambling", "casino", "cásino"),
    ];
    assert!(cases.len() >= 40);
    for (text, category, term, said) in cases {
        let v = s.scan(text);
        let h = hit(&v, category, term)
            .unwrap_or_else(|| panic!("{text:?}: no {category}/{term} hit in {v:?}"));
        assert_eq!(&h.original, said, "{text:?}");
        assert_eq!(&text[h.start..h.end], *said, "{text:?}: offsets");
        assert_eq!(v.lexicon_version, 7);
    }
}

#[test]
fn det1_ordinary_text_with_the_characters_far_apart_is_not_detected() {
    let s = scanner();
    let filler =
        "今天天气很好我们一起去公园散步然后吃午饭再回家休息一下晚上看电影读书写字画画唱歌跳舞";
    assert!(filler.chars().count() >= 40);
    let text = format!("他从不赌{filler}场地很大");
    assert_eq!(s.scan(&text).score("gambling"), 0.0, "{text}");

    let text = "the cat is on the mat; sino-american relations";
    assert!(s.scan(text).categories.is_empty());
    // A long run of filler is a real gap, not filler inside a word.
    let text = format!("赌{}场", " -".repeat(20));
    assert_eq!(s.scan(&text).score("gambling"), 0.0);
    // Short Latin terms must stand as a word.
    assert_eq!(
        s.scan("a pornographic-free, sporny text")
            .score("porn_vulgar"),
        0.0
    );
    assert!(s.scan("porn!").score("porn_vulgar") > 0.0);
    // Digits are not letters: 0 is not o.
    assert_eq!(s.scan("cas1n0").score("gambling"), 0.0);
}

#[test]
fn det1_near_rule_counts_only_with_its_companion_nearby() {
    let s = scanner();
    assert_eq!(s.scan("请把钱存入安全账户").score("fraud"), 0.0);
    let v = s.scan("请立即转账到安全账户");
    assert_eq!(v.score("fraud"), 2.0);
    assert_eq!(hit(&v, "fraud", "安全账户").unwrap().original, "安全账户");
    // Companion after the term, across filler, still within 10 chars.
    assert_eq!(s.scan("安全 账户，然后转 账").score("fraud"), 2.0);
    let far = format!("转账{}安全账户", "我们一起去公园散步然后吃饭");
    assert_eq!(s.scan(&far).score("fraud"), 0.0);
}

#[test]
fn score_counts_distinct_terms_and_sorts_categories() {
    let s = scanner();
    let v = s.scan("赌场 赌场 赌场 百家乐 online casino，一夜情");
    // 赌场 once + 百家乐 + online casino + casino (overlapping) = 4
    assert_eq!(v.score("gambling"), 4.0);
    assert_eq!(v.score("porn_vulgar"), 1.0);
    assert_eq!(v.categories[0].category, "gambling");
    assert_eq!(v.categories[0].hits.len(), 6);
    let json = serde_json::to_string(&v).unwrap();
    assert!(json.contains("\"lexicon_version\":7"));
}

#[test]
fn normalised_map_points_back_to_the_original() {
    let text = "Ａ b\u{200B}賭，ﬁ😀X";
    let n = normalise(text);
    assert_eq!(n.text, "ab赌fix");
    assert_eq!(n.map.len(), n.text.chars().count());
    for (c, &offset) in n.text.chars().zip(&n.map) {
        assert!(text.is_char_boundary(offset), "{c}");
    }
    assert_eq!(n.original_range(text, 2..3).map(|r| &text[r]), Some("賭"));
    assert_eq!(
        n.original_range(text, 0..5).map(|r| &text[r]),
        Some("Ａ b\u{200B}賭，ﬁ")
    );
    assert_eq!(n.original_range(text, 3..3), None);
    assert_eq!(normalise_term("Online  Casino!"), "onlinecasino");
    assert_eq!(normalise("").text, "");
}

#[test]
fn normalise_is_linear_on_large_input() {
    let text = "赌 . 场 casino 🎰 ".repeat(200_000);
    let n = normalise(&text);
    assert_eq!(n.map.len(), n.text.chars().count());
    let v = scanner().scan(&text);
    assert_eq!(
        v.categories[0].hits.len(),
        warden_scan::MAX_HITS_PER_CATEGORY
    );
}

#[test]
fn lexicon_validation_names_the_entry() {
    let mut lex = lexicon();
    lex.entries[3].term = " .,!! ".into();
    let err = Scanner::build(&lex).unwrap_err().to_string();
    assert!(err.contains("entries[3].term"), "{err}");

    let mut lex = lexicon();
    lex.entries[2].category = "not_a_category".into();
    assert!(
        matches!(lex.validate(), Err(LexiconError::UnknownCategory { at, .. }) if at == "entries[2].category")
    );

    let mut lex = lexicon();
    lex.entries[1].term = "长".repeat(65);
    assert!(
        matches!(lex.validate(), Err(LexiconError::TermTooLong { at, .. }) if at == "entries[1].term")
    );

    let mut lex = lexicon();
    lex.entries[0].weight = f32::NAN;
    assert!(
        matches!(lex.validate(), Err(LexiconError::BadWeight { at, .. }) if at == "entries[0].weight")
    );

    let json = r#"{"version":3,"entries":[{"category":"gambling","term":"赌场"},
        {"category":"fraud","term":"安全账户","weight":2.5,"near":{"term":"转账","within_chars":8}}]}"#;
    let lex: Lexicon = serde_json::from_str(json).unwrap();
    assert_eq!(lex.entries[0].weight, 1.0);
    assert_eq!(lex.entries[1].near.as_ref().unwrap().within_chars, 8);
    assert!(serde_json::from_str::<Lexicon>(r#"{"version":1,"entries":[],"x":1}"#).is_err());
}

#[test]
fn scanner_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
    let s = Arc::new(scanner());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.scan("赌 场").score("gambling"))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1.0);
    }
}

#[test]
fn det1_default_lexicon_builds_and_detects_gambling_pages() {
    let lex = default_lexicon();
    assert!(lex.entries.len() >= 5_000, "{}", lex.entries.len());
    for category in [
        "porn_vulgar",
        "violence_terror",
        "gambling",
        "fraud",
        "spam_ads",
        "cyber_harm",
    ] {
        assert!(
            lex.entries.iter().any(|e| e.category == category),
            "{category}"
        );
    }
    let s = Scanner::build(&lex).unwrap();
    assert!(s.memory_bytes() > 0);

    let zh =
        "【澳門新葡京】真人 百 家 樂、六合彩、足球投注，註冊送彩金，首存優惠！24小時在線客服。";
    let v = s.scan(zh);
    assert_eq!(v.categories[0].category, "gambling", "{v:?}");
    assert!(v.score("gambling") >= 4.0, "{v:?}");

    let en = "Welcome to the best ONLINE CASINO! Play live baccarat, roulette and online slots. \
              Sports betting with the best odds — claim 100 free spins.";
    let v = s.scan(en);
    assert_eq!(v.categories[0].category, "gambling", "{v:?}");
    assert!(v.score("gambling") >= 5.0, "{v:?}");

    let ordinary =
        "The weather in Hangzhou is mild in spring. 今天我们去西湖散步，看了很多花，然后回家吃饭。";
    assert!(
        s.scan(ordinary).categories.is_empty(),
        "{:?}",
        s.scan(ordinary)
    );
}
