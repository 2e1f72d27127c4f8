# ruff: noqa: E501  (one marked-up sentence per line reads better than wrapped strings)
"""More development prose for the fast path's PERSON / LOCATION rules: report-style sentences
written for Steward (not taken from any corpus), names and places marked ``[text](TYPE)``.

Development data, never a headline figure: the rules in ``detectors/names_places.py`` are chosen
by measuring on this file, on ``privacy_dev_prose.py`` and on the tuning corpus
(``scripts/privacy_dev_names_eval.py``). The evaluation sources stay untouched by tuning.
It covers what the first set is thin on: names from many cultures, titles and offices, speech
verbs, sports lists, capitalised headlines, organisations and demonyms (which are not labelled),
month and weekday words. Guidelines as in ``privacy_dev_prose.py``.
"""

from __future__ import annotations

from scripts.privacy_dev_prose import parse

SENTENCES = (
    "Health Minister [Anneliese Vogt](PERSON) said on Monday that hospitals in [Hamburg](LOCATION) were coping.",
    "[Tomasz Kowalczyk](PERSON), a teacher from [Gdansk](LOCATION), won the national chess title.",
    "The spokesman, [Yusuf Demir](PERSON), told journalists the border with [Syria](LOCATION) would stay shut.",
    "President [Olusegun Obasanjo](PERSON) flew to [Abuja](LOCATION) after talks in [Accra](LOCATION).",
    "Prime Minister [Junichiro Koizumi](PERSON) will meet business leaders in [Osaka](LOCATION) on Friday.",
    "[Ngaire Te Rangi](PERSON) has been appointed to lead the inquiry in [Auckland](LOCATION).",
    "The Greens leader, [Bob Brown](PERSON), accused the Government of ignoring the report.",
    "Judge [Elena Marchetti](PERSON) adjourned the case until April.",
    "Captain [Rahul Dravid](PERSON) made 95 as [India](LOCATION) reached 310 for six in [Kolkata](LOCATION).",
    "[Shoaib Akhtar](PERSON) took four wickets, while [Inzamam](PERSON) and [Younis Khan](PERSON) added 120 runs.",
    "Squad: [Gregan](PERSON), [Larkham](PERSON), [Burke](PERSON), [Herbert](PERSON), [Roff](PERSON), [Eales](PERSON).",
    "FLOODS HIT [MOZAMBIQUE](LOCATION) AS AID ARRIVES IN [MAPUTO](LOCATION)",
    "PM TO MEET UNIONS OVER JOB CUTS",
    "[Dmitri Sokolov](PERSON) said the Russian Foreign Ministry had not been told of the plan.",
    "The Australian Democrats want the Senate to block the bill.",
    "Officials at the Department of Immigration said the boat had been towed to [Christmas Island](LOCATION).",
    "A Qantas jet carrying 200 passengers landed safely in [Bangkok](LOCATION) after engine trouble.",
    "Professor [Hiroshi Tanaka](PERSON) of Kyoto University said the findings were premature.",
    "Ms [Siobhan O'Sullivan](PERSON) said residents of [Cork](LOCATION) had waited long enough.",
    "[Ahmad Shah Massoud](PERSON) was killed by men posing as journalists, his aides in [Dushanbe](LOCATION) said.",
    "Mr [Nkosana Dlamini](PERSON) will replace [Thabo Mokoena](PERSON) as head of the union.",
    "Police said [Marco Rossi](PERSON), 34, was arrested at his home in [Turin](LOCATION).",
    "The Palestinian leader, [Yasser Arafat](PERSON), remains confined to his compound.",
    "[Ariel Sharon](PERSON) told the Knesset that [Israel](LOCATION) would not negotiate under fire.",
    "The Indonesian President, [Megawati Sukarnoputri](PERSON), visited [Aceh](LOCATION) yesterday.",
    "In [Karachi](LOCATION), gunmen opened fire on a bus carrying engineers.",
    "Australian Cricket Board chairman [Denis Rogers](PERSON) defended the decision.",
    "[Chen Shui-bian](PERSON) said [Taiwan](LOCATION) would not bow to pressure from [Beijing](LOCATION).",
    "Defence Force chief Admiral [Chris Barrie](PERSON) says the ship will sail for the [Gulf](LOCATION) next week.",
    "Economists at Westpac expect the dollar to fall below 50 US cents.",
    "The United Nations High Commissioner for Refugees, [Ruud Lubbers](PERSON), arrives in [Canberra](LOCATION) today.",
    "[Pervez Musharraf](PERSON) has promised to hold elections in [Pakistan](LOCATION) by October.",
    "Fire crews from [Newcastle](LOCATION) and the [Hunter Valley](LOCATION) have joined the effort.",
    "A spokesman for Telstra said the outage affected customers in [Adelaide](LOCATION) and [Darwin](LOCATION).",
    "Chief Justice [Murray Gleeson](PERSON) handed down the judgment in the High Court.",
    "The Argentine economy minister, [Domingo Cavallo](PERSON), has resigned.",
    "Coach [Rod Macqueen](PERSON) said Wallabies winger [Joe Roff](PERSON) would be fit.",
    "[Abdelaziz Bouteflika](PERSON) urged calm after riots in [Kabylie](LOCATION).",
    "The Mayor of [Rotterdam](LOCATION), [Ivo Opstelten](PERSON), opened the new bridge.",
    "Mexican President [Vicente Fox](PERSON) and [US](LOCATION) President [George W. Bush](PERSON) met at the ranch in [Crawford](LOCATION).",
    "The Foreign Minister, [Alexander Downer](PERSON), says he has spoken to his counterpart in [Jakarta](LOCATION).",
    "Results: 1. [Ian Thorpe](PERSON) ([Australia](LOCATION)) 3:40.17, 2. [Grant Hackett](PERSON) ([Australia](LOCATION)), 3. [Massimiliano Rosolino](PERSON) ([Italy](LOCATION)).",
    "Witnesses told Reuters that [Kunduz](LOCATION) was surrounded.",
    "On Tuesday the Victorian Government announced a review of the Melbourne Cup arrangements.",
    "[Hassan Nasrallah](PERSON) warned that [Lebanon](LOCATION) would respond to any attack.",
    "[Maria Ferreira](PERSON) and her husband [Joao](PERSON) fled [Dili](LOCATION) in 1999.",
    "Dr [Anand Krishnamurthy](PERSON) said the vaccine trial in [Bangalore](LOCATION) would start in May.",
    "The Swedish company Ericsson will cut 12,000 jobs, chief executive [Kurt Hellstrom](PERSON) said.",
    "Labor's [Simon Crean](PERSON) has called on the Prime Minister to explain.",
    "Witnesses said soldiers fired on protesters in [Harare](LOCATION), where [Morgan Tsvangirai](PERSON) had planned a rally.",
    "The former All Black [Jonah Lomu](PERSON) is recovering in hospital in [Wellington](LOCATION).",
    "Senior Sergeant [Kate Ellison](PERSON) said the boy was found near [Ballarat](LOCATION).",
    "The Democratic Party's nominee, [Al Gore](PERSON), conceded in [Nashville](LOCATION).",
    "BUSH VOWS TO HUNT DOWN [BIN LADEN](PERSON)",
    "Spanish police arrested eight men in [Madrid](LOCATION) and [Granada](LOCATION).",
    "[Ehud Barak](PERSON) and [Shimon Peres](PERSON) will attend the funeral.",
    "In March the Commonwealth Bank raised its rates, said analyst [Craig James](PERSON).",
    "[Gonzalo Hernandez](PERSON) scored for [Chile](LOCATION) before [Uruguay](LOCATION) equalised.",
    "The Saudi interior minister, Prince [Nayef](PERSON), denied that Saudi citizens were involved.",
    "Villagers in [Orissa](LOCATION) say the cyclone destroyed their crops.",
    "A truck bomb exploded outside the embassy in [Nairobi](LOCATION), killing [Wanjiru Kamau](PERSON) and four others.",
    "The British Prime Minister arrived in [Islamabad](LOCATION) from [New Delhi](LOCATION) last night.",
    "[Thaksin Shinawatra](PERSON) says [Thailand](LOCATION) will not send troops.",
    "Earlier, Deputy Prime Minister [John Anderson](PERSON) visited farmers in [Dubbo](LOCATION).",
    "Lawyers for [Slobodan Milosevic](PERSON) told the tribunal in [The Hague](LOCATION) that he was ill.",
    "The [Queensland](LOCATION) Premier, [Peter Beattie](PERSON), says the state budget will be in surplus.",
    "[Javier Solana](PERSON), the European Union's foreign policy chief, arrived in [Skopje](LOCATION).",
    "Residents fled as the volcano near [Goma](LOCATION) erupted on Thursday.",
    "Sources close to [Osama bin Laden](PERSON) said he had left [Kandahar](LOCATION).",
    "[Björn Andersson](PERSON) of [Sweden](LOCATION) finished ahead of [François Lefèvre](PERSON).",
    "The airline's founder, Sir [Richard Branson](PERSON), flew into [Sydney](LOCATION) to announce the deal.",
    "Rain stopped play at the Gabba with [Pakistan](LOCATION) 3 for 87.",
    "[Nasser Hussain](PERSON) won the toss and chose to bat.",
    "Northern Alliance commander [Mohammad Fahim](PERSON) said his troops had taken [Taloqan](LOCATION).",
    "The report by Amnesty International criticised conditions at [Woomera](LOCATION).",
    "[Sydney](LOCATION)-based lawyer [Julian Burnside](PERSON) represented the asylum seekers.",
    "[Kim Dae-jung](PERSON) urged [North Korea](LOCATION) to resume talks.",
    "The Zimbabwean opposition says the vote in [Bulawayo](LOCATION) was rigged.",
    "Deputy Commissioner [Andrew Scipione](PERSON) said the investigation was continuing.",
    "A [Melbourne](LOCATION) man has been charged with the murder of [Li Na](PERSON), 23, in [Footscray](LOCATION).",
    "[Lleyton Hewitt](PERSON) beat [Yevgeny Kafelnikov](PERSON) in straight sets.",
    "Many Afghans crossed into [Iran](LOCATION) during the winter, the agency said.",
)


def records() -> list[tuple[str, list[tuple[int, int, str]]]]:
    return [parse(s) for s in SENTENCES]
