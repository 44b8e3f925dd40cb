//! What a prompt is about and what it asks for, coarsely: one of a fixed
//! set of topics (by content words, English and Chinese, counted over the
//! system and user text alike) and one of a fixed set of instruction types
//! (by the leading verb or question word). The `topics` signal counts how
//! many (topic, type) cells a key's answered-at-length requests walk
//! through, and how evenly: a product or a person stays in a few cells, a
//! dataset being enumerated walks many of them evenly. Scaffold words
//! ("write", "instruction", "answer", "example") are not content words.

use std::sync::OnceLock;

use crate::features::{MAX_FEATURE_BYTES, head_of, word_hashes};
use crate::fxhash::FastMap;

/// The topics, by index (a cell's topic; [`TOPICS`]`.len()` is "none").
pub const TOPICS: &[(&str, &str, &str)] = &[
    (
        "programming",
        "code function python javascript java rust sql bug compile variable array loop class api database regex algorithm html css script program programming debug git json server",
        "代码 编程 函数 程序 算法 数据库",
    ),
    (
        "mathematics",
        "math equation solve integral derivative probability prime number sum calculate geometry triangle algebra matrix fraction percent theorem proof statistics average",
        "数学 方程 计算 概率 几何 函数值",
    ),
    (
        "science",
        "physics chemistry biology atom molecule energy gravity cell dna evolution planet star universe experiment quantum electron climate ecosystem species photosynthesis",
        "物理 化学 生物 科学 实验 宇宙",
    ),
    (
        "health",
        "health doctor disease symptom medicine diet exercise sleep vitamin pain treatment mental anxiety depression blood heart nutrition calories fitness virus",
        "健康 医生 疾病 症状 药 运动 睡眠",
    ),
    (
        "food",
        "recipe cook cooking bake baking ingredient dish food meal soup sauce dessert cake bread chicken vegetarian flavor kitchen restaurant wine coffee",
        "菜 食谱 烹饪 美食 做饭 食物",
    ),
    (
        "travel",
        "travel trip visit city country tourist hotel flight vacation beach mountain island europe asia africa america destination itinerary",
        "旅游 旅行 城市 国家 酒店 景点",
    ),
    (
        "history",
        "history historical war century ancient empire king queen revolution president politics government election democracy treaty civilization colonial",
        "历史 战争 朝代 皇帝 政治 政府",
    ),
    (
        "business",
        "business company market marketing sales customer startup product brand strategy finance money invest investment stock bank budget price economy tax",
        "公司 市场 营销 经济 投资 金融 企业",
    ),
    (
        "law",
        "law legal contract court lawyer rights copyright patent regulation crime police license liability",
        "法律 合同 法院 权利 规定",
    ),
    (
        "language",
        "grammar sentence word words synonym translate translation english spanish french chinese language vocabulary spelling verb noun",
        "语法 句子 词语 翻译 英语 语言",
    ),
    (
        "arts",
        "poem poetry story novel music song movie film art painting artist book character author fiction lyrics album actor theater",
        "诗 小说 音乐 电影 艺术 故事",
    ),
    (
        "sports",
        "sport sports game games football soccer basketball baseball tennis team player match olympic chess golf",
        "体育 比赛 足球 篮球 运动员",
    ),
    (
        "technology",
        "computer phone internet software hardware ai robot device app network wifi battery laptop smartphone technology digital online website",
        "电脑 手机 互联网 软件 人工智能 技术 网络",
    ),
    (
        "education",
        "school student teacher learn learning study university college exam class course lesson homework education",
        "学校 学生 老师 学习 教育 考试 大学",
    ),
    (
        "relationships",
        "friend friends family relationship love partner parent child children kids wife husband girlfriend boyfriend marriage wedding dating",
        "朋友 家庭 父母 孩子 爱情 婚姻",
    ),
    (
        "nature",
        "animal animals dog cat bird plant plants tree garden flower environment ocean river weather forest pet",
        "动物 植物 环境 天气 自然 花",
    ),
];

/// The instruction types, by index (by the first words of the user's text;
/// [`TYPES`]`.len()` is "other").
pub const TYPES: &[(&str, &[&str])] = &[
    (
        "write",
        &[
            "write", "compose", "draft", "create", "generate", "make", "design", "develop", "写",
            "创作", "生成", "编写",
        ],
    ),
    (
        "explain",
        &[
            "explain",
            "describe",
            "why",
            "how",
            "discuss",
            "elaborate",
            "解释",
            "描述",
            "为什么",
            "如何",
            "怎么",
        ],
    ),
    (
        "list",
        &[
            "list",
            "name",
            "give",
            "provide",
            "suggest",
            "recommend",
            "brainstorm",
            "列出",
            "列举",
            "推荐",
            "给出",
        ],
    ),
    (
        "summarize",
        &["summarize", "summarise", "summary", "tldr", "总结", "概括"],
    ),
    (
        "transform",
        &[
            "rewrite",
            "paraphrase",
            "edit",
            "correct",
            "convert",
            "translate",
            "rephrase",
            "改写",
            "翻译",
            "修改",
            "转换",
        ],
    ),
    (
        "classify",
        &[
            "classify",
            "categorize",
            "identify",
            "determine",
            "detect",
            "label",
            "分类",
            "判断",
            "识别",
        ],
    ),
    (
        "compare",
        &["compare", "contrast", "difference", "比较", "区别"],
    ),
    (
        "solve",
        &[
            "solve",
            "calculate",
            "compute",
            "find",
            "evaluate",
            "计算",
            "求",
        ],
    ),
    (
        "question",
        &[
            "what", "who", "when", "where", "which", "is", "are", "can", "do", "does", "should",
            "could", "什么", "谁", "哪", "是否", "吗",
        ],
    ),
];

/// Cells: topics (and none) × types (and other).
pub const CELLS: usize = (TOPICS.len() + 1) * (TYPES.len() + 1);

struct Lexicon {
    topic_of: FastMap<u64, u8>,
    zh_topics: Vec<(&'static str, u8)>,
    type_of: FastMap<u64, u8>,
    zh_types: Vec<(&'static str, u8)>,
}

fn lexicon() -> &'static Lexicon {
    static ONCE: OnceLock<Lexicon> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mut l = Lexicon {
            topic_of: FastMap::default(),
            zh_topics: Vec::new(),
            type_of: FastMap::default(),
            zh_types: Vec::new(),
        };
        for (i, (_, en, zh)) in TOPICS.iter().enumerate() {
            for w in en.split_whitespace() {
                if let Some(h) = word_hashes(w).first() {
                    l.topic_of.insert(*h, i as u8);
                }
            }
            for w in zh.split_whitespace() {
                l.zh_topics.push((w, i as u8));
            }
        }
        for (i, (_, words)) in TYPES.iter().enumerate() {
            for w in *words {
                if w.is_ascii() {
                    if let Some(h) = word_hashes(w).first() {
                        l.type_of.insert(*h, i as u8);
                    }
                } else {
                    l.zh_types.push((w, i as u8));
                }
            }
        }
        l
    })
}

/// Adds the content words of a text's head to `counts`.
fn count_topics(text: &str, counts: &mut [u16; TOPICS.len()]) {
    let l = lexicon();
    let text = head_of(text, MAX_FEATURE_BYTES);
    for h in word_hashes(text) {
        if let Some(t) = l.topic_of.get(&h) {
            counts[usize::from(*t)] = counts[usize::from(*t)].saturating_add(1);
        }
    }
    if !text.is_ascii() {
        for (w, t) in &l.zh_topics {
            let n = u16::try_from(text.matches(w).count()).unwrap_or(u16::MAX);
            counts[usize::from(*t)] = counts[usize::from(*t)].saturating_add(n);
        }
    }
}

/// The topic of a text: the one with most content words in it (the first
/// on a tie); `None` when it has none.
pub fn topic(text: &str) -> Option<u8> {
    let mut counts = [0u16; TOPICS.len()];
    count_topics(text, &mut counts);
    best(&counts)
}

/// The topic with most content words in `counts` (the first on a tie);
/// `None` when there are none.
fn best(counts: &[u16; TOPICS.len()]) -> Option<u8> {
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (*n > 0).then_some(best as u8)
}

/// The instruction type of the user's text: by its first three words (a
/// greeting or "please" may come first), or the first few characters of
/// Chinese text; `None` for other.
pub fn kind(user: &str) -> Option<u8> {
    let l = lexicon();
    let start = head_of(user.trim_start(), 64);
    for h in word_hashes(start).iter().take(3) {
        if let Some(t) = l.type_of.get(h) {
            return Some(*t);
        }
    }
    let first: String = start.chars().take(8).collect();
    l.zh_types
        .iter()
        .filter_map(|(w, t)| first.find(w).map(|at| (at, *t)))
        .min()
        .map(|(_, t)| t)
}

/// A request's cell: topic (of the system and user text together) × type,
/// in 0..[`CELLS`].
pub fn cell(system: &str, user: &str) -> u8 {
    let mut counts = [0u16; TOPICS.len()];
    count_topics(system, &mut counts);
    count_topics(user, &mut counts);
    let t = best(&counts);
    let k = kind(user).or_else(|| kind(system));
    let t = usize::from(t.unwrap_or(TOPICS.len() as u8));
    let k = usize::from(k.unwrap_or(TYPES.len() as u8));
    (t * (TYPES.len() + 1) + k) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_types_of_plain_prompts() {
        let name = |t: Option<u8>| t.map(|t| TOPICS[usize::from(t)].0);
        assert_eq!(
            name(topic("Write a python function that reverses a list")),
            Some("programming")
        );
        assert_eq!(
            name(topic("What is a good recipe for vegetarian lasagna?")),
            Some("food")
        );
        assert_eq!(name(topic("请推荐几个适合旅游的城市")), Some("travel"));
        assert_eq!(name(topic("hello there")), None);
        let kname = |t: Option<u8>| t.map(|t| TYPES[usize::from(t)].0);
        assert_eq!(
            kname(kind("Please summarize this article")),
            Some("summarize")
        );
        assert_eq!(
            kname(kind("What is the capital of France?")),
            Some("question")
        );
        assert_eq!(kname(kind("请解释一下量子力学")), Some("explain"));
        assert_eq!(kname(kind("hello there")), None);
        assert!(usize::from(cell("", "")) < CELLS);
        assert_ne!(
            cell("", "Write a poem about the ocean"),
            cell("", "Explain how a stock market works")
        );
        // The system text counts for the topic: the instruction may sit there.
        assert_eq!(
            cell("Write a recipe for a chocolate cake.", "go"),
            cell("", "Write a recipe for a chocolate cake.")
        );
    }
}
