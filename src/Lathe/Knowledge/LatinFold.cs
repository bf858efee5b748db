using System.Collections.Frozen;

namespace Lathe.Knowledge;

/// <summary>Latin letters with diacritics folded to their ASCII base ("é" → "e", "ß" → "ss", "ø" → "o"). Lathe runs
/// with invariant globalization (no ICU), where <see cref="string.Normalize()"/> leaves text unchanged, so
/// <see cref="NameKey"/> cannot strip accents by decomposing; this table does it for Latin-1, Latin Extended-A/B and
/// Latin Extended Additional. Generated with Python's unicodedata (NFD, combining marks dropped, plus the letters NFD
/// does not decompose: ß æ œ ø đ ł þ ð ħ ı ŀ ŧ ƒ ĸ ŉ):
/// <c>[(c, base) for c in U+00C0..U+024F, U+1E00..U+1EFF if NFD(c) minus marks is ASCII and differs from c]</c>.</summary>
internal static class LatinFold
{
    // "XY " items: the letter X folds to the ASCII text Y (one or two letters).
    const string Table = """
        ÀA ÁA ÂA ÃA ÄA ÅA ÆAE ÇC ÈE ÉE ÊE ËE ÌI ÍI ÎI ÏI ÐD ÑN ÒO ÓO ÔO ÕO ÖO ØO ÙU ÚU ÛU ÜU ÝY ÞTH ßss àa
        áa âa ãa äa åa æae çc èe ée êe ëe ìi íi îi ïi ðd ñn òo óo ôo õo öo øo ùu úu ûu üu ýy þth ÿy ĀA āa
        ĂA ăa ĄA ąa ĆC ćc ĈC ĉc ĊC ċc ČC čc ĎD ďd ĐD đd ĒE ēe ĔE ĕe ĖE ėe ĘE ęe ĚE ěe ĜG ĝg ĞG ğg ĠG ġg ĢG
        ģg ĤH ĥh ĦH ħh ĨI ĩi ĪI īi ĬI ĭi ĮI įi İI ıi ĴJ ĵj ĶK ķk ĸk ĹL ĺl ĻL ļl ĽL ľl ĿL ŀl ŁL łl ŃN ńn ŅN
        ņn ŇN ňn ŉn ŌO ōo ŎO ŏo ŐO őo ŒOE œoe ŔR ŕr ŖR ŗr ŘR řr ŚS śs ŜS ŝs ŞS şs ŠS šs ŢT ţt ŤT ťt ŦT ŧt
        ŨU ũu ŪU ūu ŬU ŭu ŮU ůu ŰU űu ŲU ųu ŴW ŵw ŶY ŷy ŸY ŹZ źz ŻZ żz ŽZ žz ƒf ƠO ơo ƯU ưu ǍA ǎa ǏI ǐi ǑO
        ǒo ǓU ǔu ǕU ǖu ǗU ǘu ǙU ǚu ǛU ǜu ǞA ǟa ǠA ǡa ǦG ǧg ǨK ǩk ǪO ǫo ǬO ǭo ǰj ǴG ǵg ǸN ǹn ǺA ǻa ȀA ȁa ȂA
        ȃa ȄE ȅe ȆE ȇe ȈI ȉi ȊI ȋi ȌO ȍo ȎO ȏo ȐR ȑr ȒR ȓr ȔU ȕu ȖU ȗu ȘS șs ȚT țt ȞH ȟh ȦA ȧa ȨE ȩe ȪO ȫo
        ȬO ȭo ȮO ȯo ȰO ȱo ȲY ȳy ḀA ḁa ḂB ḃb ḄB ḅb ḆB ḇb ḈC ḉc ḊD ḋd ḌD ḍd ḎD ḏd ḐD ḑd ḒD ḓd ḔE ḕe ḖE ḗe ḘE
        ḙe ḚE ḛe ḜE ḝe ḞF ḟf ḠG ḡg ḢH ḣh ḤH ḥh ḦH ḧh ḨH ḩh ḪH ḫh ḬI ḭi ḮI ḯi ḰK ḱk ḲK ḳk ḴK ḵk ḶL ḷl ḸL ḹl
        ḺL ḻl ḼL ḽl ḾM ḿm ṀM ṁm ṂM ṃm ṄN ṅn ṆN ṇn ṈN ṉn ṊN ṋn ṌO ṍo ṎO ṏo ṐO ṑo ṒO ṓo ṔP ṕp ṖP ṗp ṘR ṙr ṚR
        ṛr ṜR ṝr ṞR ṟr ṠS ṡs ṢS ṣs ṤS ṥs ṦS ṧs ṨS ṩs ṪT ṫt ṬT ṭt ṮT ṯt ṰT ṱt ṲU ṳu ṴU ṵu ṶU ṷu ṸU ṹu ṺU ṻu
        ṼV ṽv ṾV ṿv ẀW ẁw ẂW ẃw ẄW ẅw ẆW ẇw ẈW ẉw ẊX ẋx ẌX ẍx ẎY ẏy ẐZ ẑz ẒZ ẓz ẔZ ẕz ẖh ẗt ẘw ẙy ẠA ạa ẢA
        ảa ẤA ấa ẦA ầa ẨA ẩa ẪA ẫa ẬA ậa ẮA ắa ẰA ằa ẲA ẳa ẴA ẵa ẶA ặa ẸE ẹe ẺE ẻe ẼE ẽe ẾE ếe ỀE ềe ỂE ểe
        ỄE ễe ỆE ệe ỈI ỉi ỊI ịi ỌO ọo ỎO ỏo ỐO ốo ỒO ồo ỔO ổo ỖO ỗo ỘO ộo ỚO ớo ỜO ờo ỞO ởo ỠO ỡo ỢO ợo ỤU
        ụu ỦU ủu ỨU ứu ỪU ừu ỬU ửu ỮU ữu ỰU ựu ỲY ỳy ỴY ỵy ỶY ỷy ỸY ỹy
        """;

    static readonly FrozenDictionary<char, string> Map = Table
        .Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)
        .ToFrozenDictionary(item => item[0], item => item[1..]);

    /// <summary>The ASCII folding of <paramref name="c"/>, or null when it has none.</summary>
    public static string? Of(char c) => c < '\u00C0' ? null : Map.GetValueOrDefault(c);
}
