//! Administrative divisions (GB/T 2260): Guangdong prefecture-level cities and their county-level
//! divisions, and province names by two-digit prefix.
//!
//! The residence of a permit holder must be a known Guangdong city and one of its county-level
//! divisions; Dongguan (441900) and Zhongshan (442000) have no districts, so for them the district
//! code equals the city code.

/// A Guangdong prefecture-level city.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct City {
    /// Six-digit GB/T 2260 code, e.g. 440100.
    pub code: u32,
    /// Chinese name with suffix, e.g. 广州市.
    pub name: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// County-level divisions `(code, name)`; empty for cities without districts.
    pub districts: &'static [(u32, &'static str)],
}

/// The 21 prefecture-level cities of Guangdong with their county-level divisions.
pub const GUANGDONG_CITIES: &[City] = &[
    City {
        code: 440100,
        name: "广州市",
        name_en: "Guangzhou",
        districts: &[
            (440103, "荔湾区"),
            (440104, "越秀区"),
            (440105, "海珠区"),
            (440106, "天河区"),
            (440111, "白云区"),
            (440112, "黄埔区"),
            (440113, "番禺区"),
            (440114, "花都区"),
            (440115, "南沙区"),
            (440117, "从化区"),
            (440118, "增城区"),
        ],
    },
    City {
        code: 440200,
        name: "韶关市",
        name_en: "Shaoguan",
        districts: &[
            (440203, "武江区"),
            (440204, "浈江区"),
            (440205, "曲江区"),
            (440222, "始兴县"),
            (440224, "仁化县"),
            (440229, "翁源县"),
            (440232, "乳源瑶族自治县"),
            (440233, "新丰县"),
            (440281, "乐昌市"),
            (440282, "南雄市"),
        ],
    },
    City {
        code: 440300,
        name: "深圳市",
        name_en: "Shenzhen",
        districts: &[
            (440303, "罗湖区"),
            (440304, "福田区"),
            (440305, "南山区"),
            (440306, "宝安区"),
            (440307, "龙岗区"),
            (440308, "盐田区"),
            (440309, "龙华区"),
            (440310, "坪山区"),
            (440311, "光明区"),
        ],
    },
    City {
        code: 440400,
        name: "珠海市",
        name_en: "Zhuhai",
        districts: &[(440402, "香洲区"), (440403, "斗门区"), (440404, "金湾区")],
    },
    City {
        code: 440500,
        name: "汕头市",
        name_en: "Shantou",
        districts: &[
            (440507, "龙湖区"),
            (440511, "金平区"),
            (440512, "濠江区"),
            (440513, "潮阳区"),
            (440514, "潮南区"),
            (440515, "澄海区"),
            (440523, "南澳县"),
        ],
    },
    City {
        code: 440600,
        name: "佛山市",
        name_en: "Foshan",
        districts: &[
            (440604, "禅城区"),
            (440605, "南海区"),
            (440606, "顺德区"),
            (440607, "三水区"),
            (440608, "高明区"),
        ],
    },
    City {
        code: 440700,
        name: "江门市",
        name_en: "Jiangmen",
        districts: &[
            (440703, "蓬江区"),
            (440704, "江海区"),
            (440705, "新会区"),
            (440781, "台山市"),
            (440783, "开平市"),
            (440784, "鹤山市"),
            (440785, "恩平市"),
        ],
    },
    City {
        code: 440800,
        name: "湛江市",
        name_en: "Zhanjiang",
        districts: &[
            (440802, "赤坎区"),
            (440803, "霞山区"),
            (440804, "坡头区"),
            (440811, "麻章区"),
            (440823, "遂溪县"),
            (440825, "徐闻县"),
            (440881, "廉江市"),
            (440882, "雷州市"),
            (440883, "吴川市"),
        ],
    },
    City {
        code: 440900,
        name: "茂名市",
        name_en: "Maoming",
        districts: &[
            (440902, "茂南区"),
            (440904, "电白区"),
            (440981, "高州市"),
            (440982, "化州市"),
            (440983, "信宜市"),
        ],
    },
    City {
        code: 441200,
        name: "肇庆市",
        name_en: "Zhaoqing",
        districts: &[
            (441202, "端州区"),
            (441203, "鼎湖区"),
            (441204, "高要区"),
            (441223, "广宁县"),
            (441224, "怀集县"),
            (441225, "封开县"),
            (441226, "德庆县"),
            (441284, "四会市"),
        ],
    },
    City {
        code: 441300,
        name: "惠州市",
        name_en: "Huizhou",
        districts: &[
            (441302, "惠城区"),
            (441303, "惠阳区"),
            (441322, "博罗县"),
            (441323, "惠东县"),
            (441324, "龙门县"),
        ],
    },
    City {
        code: 441400,
        name: "梅州市",
        name_en: "Meizhou",
        districts: &[
            (441402, "梅江区"),
            (441403, "梅县区"),
            (441422, "大埔县"),
            (441423, "丰顺县"),
            (441424, "五华县"),
            (441426, "平远县"),
            (441427, "蕉岭县"),
            (441481, "兴宁市"),
        ],
    },
    City {
        code: 441500,
        name: "汕尾市",
        name_en: "Shanwei",
        districts: &[
            (441502, "城区"),
            (441521, "海丰县"),
            (441523, "陆河县"),
            (441581, "陆丰市"),
        ],
    },
    City {
        code: 441600,
        name: "河源市",
        name_en: "Heyuan",
        districts: &[
            (441602, "源城区"),
            (441621, "紫金县"),
            (441622, "龙川县"),
            (441623, "连平县"),
            (441624, "和平县"),
            (441625, "东源县"),
        ],
    },
    City {
        code: 441700,
        name: "阳江市",
        name_en: "Yangjiang",
        districts: &[
            (441702, "江城区"),
            (441704, "阳东区"),
            (441721, "阳西县"),
            (441781, "阳春市"),
        ],
    },
    City {
        code: 441800,
        name: "清远市",
        name_en: "Qingyuan",
        districts: &[
            (441802, "清城区"),
            (441803, "清新区"),
            (441821, "佛冈县"),
            (441823, "阳山县"),
            (441825, "连山壮族瑶族自治县"),
            (441826, "连南瑶族自治县"),
            (441881, "英德市"),
            (441882, "连州市"),
        ],
    },
    City {
        code: 441900,
        name: "东莞市",
        name_en: "Dongguan",
        districts: &[],
    },
    City {
        code: 442000,
        name: "中山市",
        name_en: "Zhongshan",
        districts: &[],
    },
    City {
        code: 445100,
        name: "潮州市",
        name_en: "Chaozhou",
        districts: &[(445102, "湘桥区"), (445103, "潮安区"), (445122, "饶平县")],
    },
    City {
        code: 445200,
        name: "揭阳市",
        name_en: "Jieyang",
        districts: &[
            (445202, "榕城区"),
            (445203, "揭东区"),
            (445222, "揭西县"),
            (445224, "惠来县"),
            (445281, "普宁市"),
        ],
    },
    City {
        code: 445300,
        name: "云浮市",
        name_en: "Yunfu",
        districts: &[
            (445302, "云城区"),
            (445303, "云安区"),
            (445321, "新兴县"),
            (445322, "郁南县"),
            (445381, "罗定市"),
        ],
    },
];

/// Looks up a Guangdong prefecture-level city by its code.
pub fn city(code: u32) -> Option<&'static City> {
    GUANGDONG_CITIES.iter().find(|c| c.code == code)
}

/// The city that a Guangdong residence district belongs to (its first four digits followed by
/// `00`), if both are known.
pub fn city_of_district(district: u32) -> Option<&'static City> {
    let c = city(district / 100 * 100)?;
    if c.districts.is_empty() {
        (district == c.code).then_some(c)
    } else {
        c.districts.iter().any(|(d, _)| *d == district).then_some(c)
    }
}

/// The Chinese name of a county-level division of a Guangdong city; empty for Dongguan and
/// Zhongshan, whose district code is the city code.
pub fn district_name(district: u32) -> Option<&'static str> {
    let c = city_of_district(district)?;
    if c.districts.is_empty() {
        return Some("");
    }
    c.districts
        .iter()
        .find(|(d, _)| *d == district)
        .map(|(_, n)| *n)
}

/// The fixed prefix of every residence address in a district: `广东省` + city + district,
/// e.g. `广东省广州市天河区` or `广东省东莞市`.
pub fn residence_prefix(district: u32) -> Option<String> {
    let c = city_of_district(district)?;
    let d = district_name(district)?;
    Some(format!("广东省{}{}", c.name, d))
}

/// Province-level prefixes valid in a citizen ID number (GB 11643: 11–65, 71, 81–83) with names.
pub const PROVINCES: &[(u32, &str)] = &[
    (11, "北京市"),
    (12, "天津市"),
    (13, "河北省"),
    (14, "山西省"),
    (15, "内蒙古自治区"),
    (21, "辽宁省"),
    (22, "吉林省"),
    (23, "黑龙江省"),
    (31, "上海市"),
    (32, "江苏省"),
    (33, "浙江省"),
    (34, "安徽省"),
    (35, "福建省"),
    (36, "江西省"),
    (37, "山东省"),
    (41, "河南省"),
    (42, "湖北省"),
    (43, "湖南省"),
    (44, "广东省"),
    (45, "广西壮族自治区"),
    (46, "海南省"),
    (50, "重庆市"),
    (51, "四川省"),
    (52, "贵州省"),
    (53, "云南省"),
    (54, "西藏自治区"),
    (61, "陕西省"),
    (62, "甘肃省"),
    (63, "青海省"),
    (64, "宁夏回族自治区"),
    (65, "新疆维吾尔自治区"),
    (71, "台湾省"),
    (81, "香港特别行政区"),
    (82, "澳门特别行政区"),
    (83, "台湾地区"),
];

/// The province name for a two-digit prefix, if it is a valid province-level prefix.
pub fn province_name(prefix: u32) -> Option<&'static str> {
    PROVINCES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, n)| *n)
}

/// Whether a household-registration (hukou) division code is plausible: six digits under a valid
/// mainland province prefix, not a province or city placeholder of the HK/Macao/Taiwan range.
/// Old and abolished county codes exist on real documents, so only the province is checked.
pub fn is_plausible_hukou_division(code: u32) -> bool {
    (110000..=659999).contains(&code) && province_name(code / 10000).is_some()
}

/// Human-readable place for a household-registration division: the full Guangdong city/district
/// name when known, otherwise the province name followed by the code.
pub fn hukou_place(code: u32) -> String {
    if let Some(c) = city_of_district(code) {
        let d = district_name(code).unwrap_or("");
        return format!("广东省{}{}", c.name, d);
    }
    if let Some(c) = city(code / 100 * 100) {
        return format!("广东省{} ({code})", c.name);
    }
    match province_name(code / 10000) {
        Some(p) => format!("{p} ({code})"),
        None => code.to_string(),
    }
}

/// Display name of the public security bureau with the given division code: a city bureau for
/// Dongguan and Zhongshan (`东莞市公安局`), a district branch (`广州市公安局天河区分局`) or a
/// county bureau (`台山市公安局`).
pub fn authority_name(code: u32) -> Option<String> {
    let c = city_of_district(code).or_else(|| city(code))?;
    if c.code == code {
        return Some(format!("{}公安局", c.name));
    }
    let d = district_name(code)?;
    if d.ends_with('区') {
        Some(format!("{}公安局{}分局", c.name, d))
    } else {
        Some(format!("{d}公安局"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cities_and_districts() {
        assert_eq!(GUANGDONG_CITIES.len(), 21);
        assert_eq!(city(440100).map(|c| c.name), Some("广州市"));
        assert_eq!(city_of_district(440106).map(|c| c.code), Some(440100));
        assert_eq!(city_of_district(441900).map(|c| c.code), Some(441900));
        assert_eq!(
            city_of_district(440100),
            None,
            "a city code is not a district"
        );
        assert_eq!(city_of_district(440199), None);
        assert_eq!(city_of_district(110105), None);
        assert_eq!(
            residence_prefix(440106).as_deref(),
            Some("广东省广州市天河区")
        );
        assert_eq!(residence_prefix(442000).as_deref(), Some("广东省中山市"));
        for c in GUANGDONG_CITIES {
            for (d, _) in c.districts {
                assert_eq!(d / 100 * 100, c.code, "{d} under {}", c.code);
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            authority_name(440106).as_deref(),
            Some("广州市公安局天河区分局")
        );
        assert_eq!(authority_name(441900).as_deref(), Some("东莞市公安局"));
        assert_eq!(authority_name(440781).as_deref(), Some("台山市公安局"));
        assert_eq!(hukou_place(430524), "湖南省 (430524)");
        assert_eq!(hukou_place(445281), "广东省揭阳市普宁市");
        assert!(is_plausible_hukou_division(430524));
        assert!(!is_plausible_hukou_division(830000));
        assert!(!is_plausible_hukou_division(990000));
    }
}
