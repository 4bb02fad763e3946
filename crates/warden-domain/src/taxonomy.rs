//! The violation taxonomy (SPEC §2, TAX-1..3) as data: every category with its kind, zh-CN and en
//! labels, base severity and the legal references the policy lists for it.
//!
//! Categories are a closed enum so that a match over them is checked by the compiler; the labels
//! and references live in one table ([`CATEGORIES`]) that the API serves as-is.

use serde::{Deserialize, Serialize};

crate::codes! {
    /// Content violation (内容违规) or behaviour violation (行为违规), TAX-1/TAX-2.
    pub enum Kind: "violation kind" {
        /// 内容违规: what is published.
        Content = "content",
        /// 行为违规: what a machine does.
        Behaviour = "behaviour",
    }
}

crate::codes! {
    /// Penalty level (处罚等级), GRD-1.
    pub enum Level: "level" {
        /// 一般
        General = "general",
        /// 严重
        Serious = "serious",
        /// 特别严重
        EspeciallySerious = "especially_serious",
    }
}

macro_rules! categories {
    ($( $variant:ident = $code:literal, $kind:ident, $sev:ident, $zh:literal, $en:literal, [$($law:expr),*]; )*) => {
        /// A violation category (违规信息类型). The code is the stable API name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Category { $(
            #[doc = $zh] #[doc = " — "] #[doc = $en]
            $variant,
        )* }

        /// Every category with its labels, severity and legal references (TAX-3).
        pub const CATEGORIES: &[CategoryInfo] = &[ $(
            CategoryInfo {
                category: Category::$variant,
                code: $code,
                kind: Kind::$kind,
                base_severity: Level::$sev,
                label_zh: $zh,
                label_en: $en,
                legal_refs: &[$($law),*],
            },
        )* ];

        impl Category {
            /// Every category.
            pub const ALL: &'static [Category] = &[ $( Category::$variant, )* ];

            /// The stable snake_case code.
            pub fn code(self) -> &'static str {
                match self { $( Category::$variant => $code, )* }
            }

            /// Parses a category code; unknown codes are an error naming the code.
            pub fn parse(code: &str) -> Result<Category, UnknownCategory> {
                match code { $( $code => Ok(Category::$variant), )* _ => Err(UnknownCategory(code.chars().take(64).collect())) }
            }
        }
    };
}

crate::impl_code!(Category, "category");

/// The schema of a content category's code (内容违规): the only categories lexicons and
/// content scans are about. Documentation only; values are still [`Category`] codes.
#[derive(Debug)]
pub struct ContentCategory;

impl schemars::JsonSchema for ContentCategory {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContentCategory".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = CATEGORIES
            .iter()
            .filter(|c| c.kind == Kind::Content)
            .map(|c| c.code)
            .collect();
        schemars::json_schema!({
            "type": "string",
            "description": "A content category's code (内容违规).",
            "enum": codes,
        })
    }
}

const PUNISH: &str = "《中华人民共和国治安管理处罚法》";
const CRIMINAL: &str = "《中华人民共和国刑法》";
const NET_SAFETY_DECISION: &str = "《全国人民代表大会常务委员会关于维护互联网安全的决定》";
const CYBERSECURITY: &str = "《中华人民共和国网络安全法》";
const INFO_SERVICE: &str = "《互联网信息服务管理办法》第十五条";
const COMPUTER_NET: &str = "《计算机信息网络国际互联网安全保护管理办法》";

categories! {
    PornVulgar = "porn_vulgar", Content, General, "色情低俗", "Pornographic or vulgar content", [PUNISH, CRIMINAL, NET_SAFETY_DECISION];
    ViolenceTerror = "violence_terror", Content, Serious, "暴恐血腥", "Violent, terrorist or gory content", [PUNISH, CRIMINAL];
    Gambling = "gambling", Content, Serious, "赌博", "Gambling", [PUNISH, CRIMINAL, NET_SAFETY_DECISION];
    CyberHarm = "cyber_harm", Content, General, "危害网络安全", "Content endangering network security", [CYBERSECURITY, COMPUTER_NET, CRIMINAL];
    IllegalBusiness = "illegal_business", Content, General, "违法经营", "Illegal business operations", [CRIMINAL, "《电信条例》", "《中华人民共和国反不正当竞争法》", "《中华人民共和国烟草专卖法》"];
    Fraud = "fraud", Content, Serious, "欺诈", "Fraud", ["《最高人民法院、最高人民检察院关于办理诈骗刑事案件具体应用法律若干问题的解释》", CRIMINAL, NET_SAFETY_DECISION];
    Infringement = "infringement", Content, General, "侵权", "Infringement of others' rights", [CRIMINAL, "《中华人民共和国著作权法》", NET_SAFETY_DECISION];
    AgainstConstitution = "against_constitution", Content, EspeciallySerious, "反对宪法所确定的基本原则", "Opposing the basic principles of the Constitution", [INFO_SERVICE];
    PoliticsSecurity = "politics_security", Content, EspeciallySerious, "危害国家安全、泄露国家秘密、颠覆国家政权、破坏国家统一", "Endangering national security or unity", [INFO_SERVICE, CRIMINAL];
    NationalHonour = "national_honour", Content, Serious, "损害国家荣誉和利益", "Harming national honour and interests", [INFO_SERVICE];
    EthnicHatred = "ethnic_hatred", Content, Serious, "煽动民族仇恨、民族歧视，破坏民族团结", "Inciting ethnic hatred or discrimination", [INFO_SERVICE, CRIMINAL];
    CultSuperstition = "cult_superstition", Content, Serious, "破坏国家宗教政策，宣扬邪教和封建迷信", "Promoting cults or superstition", [INFO_SERVICE];
    Rumor = "rumor", Content, General, "散布谣言，扰乱社会秩序，破坏社会稳定", "Spreading rumours that disturb social order", [INFO_SERVICE, PUNISH];
    Obscenity = "obscenity", Content, General, "散布淫秽、色情、赌博、暴力、恐怖或者教唆犯罪", "Obscenity, violence, terror or incitement to crime", [INFO_SERVICE, CRIMINAL];
    Defamation = "defamation", Content, General, "侮辱或者诽谤他人，侵害他人合法权益", "Insult or defamation of others", [INFO_SERVICE, CRIMINAL];
    IllegalAssembly = "illegal_assembly", Content, Serious, "煽动非法集会、结社、游行、示威、聚众扰乱社会秩序", "Inciting illegal assembly or disorder", [INFO_SERVICE];
    IllegalOrganisation = "illegal_organisation", Content, Serious, "以非法民间组织名义活动", "Acting in the name of an illegal organisation", [INFO_SERVICE];
    RightsInfringement = "rights_infringement", Content, General, "侵害他人名誉权、肖像权、知识产权、商业秘密等合法权利", "Infringing reputation, portrait, IP or trade-secret rights", ["《中华人民共和国著作权法》", "《中华人民共和国民法典》"];
    Privacy = "privacy", Content, General, "涉及他人隐私、个人信息或资料", "Others' private or personal information", ["《中华人民共和国个人信息保护法》", CRIMINAL];
    SpamAds = "spam_ads", Content, General, "骚扰信息、广告信息及垃圾信息或性暗示内容", "Harassment, advertising, spam or sexually suggestive content", [INFO_SERVICE];
    OtherProhibited = "other_prohibited", Content, General, "含有法律、行政法规禁止的其他内容", "Other content prohibited by law", [INFO_SERVICE];
    DdosAttack = "ddos_attack", Behaviour, Serious, "拒绝服务攻击", "Denial-of-service attack", [CYBERSECURITY, CRIMINAL];
    Hacking = "hacking", Behaviour, Serious, "黑客攻击", "Hacking / intrusion", [CYBERSECURITY, CRIMINAL];
    Scanning = "scanning", Behaviour, General, "网络扫描", "Network scanning", [CYBERSECURITY];
    MaliciousCrawler = "malicious_crawler", Behaviour, General, "恶意爬虫", "Malicious crawling", [CYBERSECURITY];
    FraudPhishing = "fraud_phishing", Behaviour, Serious, "网络欺诈/钓鱼", "Online fraud / phishing", [CYBERSECURITY, CRIMINAL];
    SpamMail = "spam_mail", Behaviour, General, "垃圾/钓鱼邮件", "Spam or phishing e-mail", [CYBERSECURITY];
    Malware = "malware", Behaviour, Serious, "传播病毒木马/非法控制他人计算机", "Spreading malware / controlling others' computers", [CYBERSECURITY, CRIMINAL];
    IllegalTelecom = "illegal_telecom", Behaviour, Serious, "违规提供电信业务", "Providing telecom services without a licence", ["《中华人民共和国电信条例》"];
    DdosVictimImpact = "ddos_victim_impact", Behaviour, General, "遭受大规模 DDoS 攻击影响其他用户", "Large DDoS against the tenant harming other tenants", [CYBERSECURITY];
}

/// One row of the taxonomy table.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct CategoryInfo {
    /// The category.
    #[serde(skip)]
    pub category: Category,
    /// Stable code.
    pub code: &'static str,
    /// Content or behaviour.
    pub kind: Kind,
    /// Level before grading adds anything (GRD-2).
    pub base_severity: Level,
    /// zh-CN label.
    pub label_zh: &'static str,
    /// English label.
    pub label_en: &'static str,
    /// Legal references shown in notices (TAX-3).
    pub legal_refs: &'static [&'static str],
}

/// A category code that is not in the taxonomy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown category {0:?}; see GET /api/taxonomy for the list")]
pub struct UnknownCategory(pub String);

impl Category {
    /// This category's table row.
    pub fn info(self) -> &'static CategoryInfo {
        // The macro builds the table in declaration order, so the discriminant is the index.
        #[allow(clippy::indexing_slicing)]
        &CATEGORIES[self as usize]
    }

    /// Content or behaviour.
    pub fn kind(self) -> Kind {
        self.info().kind
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TAX-1..3: every category has both labels and at least one legal reference, and its table
    /// row is its own.
    #[test]
    fn table_is_complete_and_consistent() {
        for (i, row) in CATEGORIES.iter().enumerate() {
            assert_eq!(row.category as usize, i);
            assert_eq!(Category::parse(row.code), Ok(row.category));
            assert!(!row.label_zh.is_empty() && !row.label_en.is_empty());
            assert!(
                !row.legal_refs.is_empty(),
                "{} has no legal reference",
                row.code
            );
        }
        assert_eq!(Category::DdosAttack.kind(), Kind::Behaviour);
        assert_eq!(Category::Gambling.kind(), Kind::Content);
        assert!(Category::parse("nope").is_err());
    }
}
