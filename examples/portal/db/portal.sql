--
-- PostgreSQL database dump (sample data for kho's example; all people are fictional)
--
-- Dumped from database version 15.5 (Debian 15.5-0+deb12u1)
-- Dumped by pg_dump version 15.5 (Debian 15.5-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;

CREATE TABLE public.thu_tuc (
    id integer NOT NULL,
    ma_thu_tuc text NOT NULL,
    ten text NOT NULL,
    linh_vuc text NOT NULL,
    thoi_han_ngay integer NOT NULL
);

ALTER TABLE public.thu_tuc OWNER TO portal;

CREATE TABLE public.ho_so (
    id integer NOT NULL,
    ma_ho_so text NOT NULL,
    thu_tuc_id integer NOT NULL,
    nguoi_nop text NOT NULL,
    dia_chi text NOT NULL,
    ngay_nop timestamp with time zone NOT NULL,
    trang_thai text NOT NULL,
    tep_dinh_kem text
);

ALTER TABLE public.ho_so OWNER TO portal;

CREATE TABLE public.nhat_ky (
    id bigint NOT NULL,
    ho_so_id integer NOT NULL,
    thoi_diem timestamp with time zone NOT NULL,
    can_bo text NOT NULL,
    noi_dung text NOT NULL
);

ALTER TABLE public.nhat_ky OWNER TO portal;

COPY public.thu_tuc (id, ma_thu_tuc, ten, linh_vuc, thoi_han_ngay) FROM stdin;
1	1.009972	Cấp giấy phép xây dựng nhà ở riêng lẻ	xay-dung	15
2	2.000720	Đăng ký thành lập hộ kinh doanh	kinh-doanh	3
3	2.000635	Cấp bản sao trích lục khai sinh	ho-tich	1
4	1.004873	Xác nhận tình trạng hôn nhân	ho-tich	3
5	1.001612	Đăng ký biến động quyền sử dụng đất	dat-dai	10
6	2.001955	Cấp giấy phép lái xe (đổi)	giao-thong	5
\.

COPY public.ho_so (id, ma_ho_so, thu_tuc_id, nguoi_nop, dia_chi, ngay_nop, trang_thai, tep_dinh_kem) FROM stdin;
1	HS-2025-000001	5	Nguyễn Ngọc Long	40 Phường 1	2025-12-02 09:07:13+07	cho_bo_sung	uploads/2025/12/HS-2025-000001.pdf
2	HS-2025-000002	5	Đặng Hoàng Yến	125 Xã Tân Hiệp	2025-12-03 10:14:26+07	moi_nop	uploads/2025/12/HS-2025-000002.pdf
3	HS-2025-000003	6	Nguyễn Thị Dũng	87 Xã Cẩm Hà	2025-12-04 11:21:39+07	dang_xu_ly	uploads/2025/12/HS-2025-000003.pdf
4	HS-2025-000004	3	Dương Bảo Yến	13 Phường 3	2025-12-05 12:28:52+07	cho_bo_sung	uploads/2025/12/HS-2025-000004.pdf
5	HS-2025-000005	4	Hồ Thanh Dũng	142 Phường Minh An	2025-12-06 13:35:05+07	da_tra_ket_qua	\N
6	HS-2025-000006	4	Lê Đức Sơn	150 Thị trấn Nam Phước	2025-12-07 14:42:18+07	da_huy	uploads/2025/12/HS-2025-000006.pdf
7	HS-2025-000007	5	Nguyễn Minh Bình	158 Phường 1	2025-12-08 15:49:31+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000007.pdf
8	HS-2025-000008	6	Lý Bảo Long	92 Phường Minh An	2025-12-09 16:56:44+07	moi_nop	uploads/2025/12/HS-2025-000008.pdf
9	HS-2025-000009	3	Ngô Ngọc Tuấn	140 Phường Minh An	2025-12-10 08:03:57+07	da_tra_ket_qua	\N
10	HS-2025-000010	3	Hồ Thị Trang	134 Phường 1	2025-12-11 09:10:10+07	cho_bo_sung	uploads/2025/12/HS-2025-000010.pdf
11	HS-2025-000011	2	Phan Hoàng Phúc	141 Phường 1	2025-12-12 10:17:23+07	da_tra_ket_qua	\N
12	HS-2025-000012	4	Huỳnh Bảo Nam	167 Xã Tân Hiệp	2025-12-13 11:24:36+07	dang_xu_ly	uploads/2025/12/HS-2025-000012.pdf
13	HS-2025-000013	1	Hồ Văn Khánh	67 Xã Tân Hiệp	2025-12-14 12:31:49+07	moi_nop	\N
14	HS-2025-000014	1	Ngô Thị Yến	94 Xã Cẩm Hà	2025-12-15 13:38:02+07	dang_xu_ly	uploads/2025/12/HS-2025-000014.pdf
15	HS-2025-000015	1	Võ Minh Sơn	55 Phường 3	2025-12-16 14:45:15+07	da_tra_ket_qua	\N
16	HS-2025-000016	3	Lý Văn Ngọc	30 Xã Tân Hiệp	2025-12-17 15:52:28+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000016.pdf
17	HS-2025-000017	5	Trần Minh Hà	38 Xã Cẩm Hà	2025-12-18 16:59:41+07	da_tra_ket_qua	\N
18	HS-2025-000018	5	Huỳnh Thu Hạnh	133 Thị trấn Nam Phước	2025-12-19 08:06:54+07	da_huy	\N
19	HS-2025-000019	6	Hồ Quốc Ngọc	100 Phường Minh An	2025-12-20 09:13:07+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000019.pdf
20	HS-2025-000020	3	Hoàng Thanh Bình	84 Phường Minh An	2025-12-21 10:20:20+07	cho_bo_sung	uploads/2025/12/HS-2025-000020.pdf
21	HS-2025-000021	3	Nguyễn Quốc Châu	1 Xã Cẩm Hà	2025-12-22 11:27:33+07	da_tra_ket_qua	\N
22	HS-2025-000022	2	Vũ Bảo Hà	60 Xã Tân Hiệp	2025-12-23 12:34:46+07	da_tra_ket_qua	\N
23	HS-2025-000023	1	Phạm Thị Hải	195 Xã Tân Hiệp	2025-12-24 13:41:59+07	moi_nop	uploads/2025/12/HS-2025-000023.pdf
24	HS-2025-000024	6	Trần Ngọc Quân	125 Phường 1	2025-12-25 14:48:12+07	da_huy	\N
25	HS-2025-000025	5	Ngô Đức Thảo	163 Thị trấn Nam Phước	2025-12-26 15:55:25+07	dang_xu_ly	uploads/2025/12/HS-2025-000025.pdf
26	HS-2025-000026	6	Đỗ Văn Tuấn	45 Phường 3	2025-12-27 16:02:38+07	da_huy	uploads/2025/12/HS-2025-000026.pdf
27	HS-2025-000027	5	Nguyễn Thu An	116 Thị trấn Nam Phước	2025-12-28 08:09:51+07	cho_bo_sung	uploads/2025/12/HS-2025-000027.pdf
28	HS-2025-000028	6	Vũ Ngọc Tuấn	76 Xã Cẩm Hà	2025-12-01 09:16:04+07	dang_xu_ly	uploads/2025/12/HS-2025-000028.pdf
29	HS-2025-000029	4	Phan Thị Hà	173 Xã Cẩm Hà	2025-12-02 10:23:17+07	moi_nop	\N
30	HS-2025-000030	1	Huỳnh Đức Hà	126 Xã Cẩm Hà	2025-12-03 11:30:30+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000030.pdf
31	HS-2025-000031	2	Võ Thu Ngọc	180 Phường 3	2025-12-04 12:37:43+07	da_huy	uploads/2025/12/HS-2025-000031.pdf
32	HS-2025-000032	1	Huỳnh Ngọc Quân	119 Phường 3	2025-12-05 13:44:56+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000032.pdf
33	HS-2025-000033	1	Hồ Hoàng Châu	197 Phường Minh An	2025-12-06 14:51:09+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000033.pdf
34	HS-2025-000034	1	Bùi Thu Sơn	188 Xã Tân Hiệp	2025-12-07 15:58:22+07	da_tra_ket_qua	\N
35	HS-2025-000035	6	Nguyễn Hoàng Hà	42 Phường 3	2025-12-08 16:05:35+07	da_huy	\N
36	HS-2025-000036	1	Huỳnh Thu Long	81 Phường Minh An	2025-12-09 08:12:48+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000036.pdf
37	HS-2025-000037	1	Vũ Thu Lan	195 Phường 3	2025-12-10 09:19:01+07	dang_xu_ly	uploads/2025/12/HS-2025-000037.pdf
38	HS-2025-000038	2	Nguyễn Thị Lan	150 Phường Minh An	2025-12-11 10:26:14+07	da_tra_ket_qua	\N
39	HS-2025-000039	3	Phan Hoàng Châu	102 Phường Minh An	2025-12-12 11:33:27+07	da_huy	uploads/2025/12/HS-2025-000039.pdf
40	HS-2025-000040	6	Phan Minh Sơn	190 Phường 3	2025-12-13 12:40:40+07	dang_xu_ly	uploads/2025/12/HS-2025-000040.pdf
41	HS-2025-000041	5	Vũ Thanh Quân	96 Phường 1	2025-12-14 13:47:53+07	cho_bo_sung	\N
42	HS-2025-000042	2	Lê Hoàng Hà	130 Phường Minh An	2025-12-15 14:54:06+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000042.pdf
43	HS-2025-000043	4	Trần Thanh Yến	196 Thị trấn Nam Phước	2025-12-16 15:01:19+07	dang_xu_ly	uploads/2025/12/HS-2025-000043.pdf
44	HS-2025-000044	2	Bùi Hoàng Hạnh	88 Xã Tân Hiệp	2025-12-17 16:08:32+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000044.pdf
45	HS-2025-000045	4	Nguyễn Quốc Long	151 Phường 1	2025-12-18 08:15:45+07	cho_bo_sung	\N
46	HS-2025-000046	6	Đặng Ngọc Khánh	61 Xã Tân Hiệp	2025-12-19 09:22:58+07	dang_xu_ly	uploads/2025/12/HS-2025-000046.pdf
47	HS-2025-000047	3	Nguyễn Quốc Lan	80 Phường 1	2025-12-20 10:29:11+07	moi_nop	\N
48	HS-2025-000048	6	Phan Hoàng An	64 Xã Cẩm Hà	2025-12-21 11:36:24+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000048.pdf
49	HS-2025-000049	5	Võ Đức Bình	179 Xã Cẩm Hà	2025-12-22 12:43:37+07	cho_bo_sung	uploads/2025/12/HS-2025-000049.pdf
50	HS-2025-000050	3	Lê Thanh Thảo	21 Xã Tân Hiệp	2025-12-23 13:50:50+07	cho_bo_sung	uploads/2025/12/HS-2025-000050.pdf
51	HS-2025-000051	2	Đặng Đức Bình	107 Xã Tân Hiệp	2025-12-24 14:57:03+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000051.pdf
52	HS-2025-000052	4	Lê Thanh Hải	193 Phường 1	2025-12-25 15:04:16+07	cho_bo_sung	uploads/2025/12/HS-2025-000052.pdf
53	HS-2025-000053	3	Dương Ngọc Trang	14 Thị trấn Nam Phước	2025-12-26 16:11:29+07	moi_nop	uploads/2025/12/HS-2025-000053.pdf
54	HS-2025-000054	2	Ngô Văn Hà	26 Phường 1	2025-12-27 08:18:42+07	moi_nop	\N
55	HS-2025-000055	3	Phạm Thu Mai	193 Phường Minh An	2025-12-28 09:25:55+07	cho_bo_sung	\N
56	HS-2025-000056	4	Lý Thị Thảo	53 Phường 3	2025-12-01 10:32:08+07	moi_nop	uploads/2025/12/HS-2025-000056.pdf
57	HS-2025-000057	2	Nguyễn Quốc Nam	43 Xã Tân Hiệp	2025-12-02 11:39:21+07	da_tra_ket_qua	\N
58	HS-2025-000058	2	Đặng Thu Khánh	125 Phường 1	2025-12-03 12:46:34+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000058.pdf
59	HS-2025-000059	2	Bùi Văn An	1 Phường 1	2025-12-04 13:53:47+07	da_huy	\N
60	HS-2025-000060	2	Phan Bảo Dũng	40 Thị trấn Nam Phước	2025-12-05 14:00:00+07	cho_bo_sung	uploads/2025/12/HS-2025-000060.pdf
61	HS-2025-000061	4	Đỗ Văn Châu	133 Phường 3	2025-12-06 15:07:13+07	da_tra_ket_qua	\N
62	HS-2025-000062	2	Hoàng Đức Vy	182 Thị trấn Nam Phước	2025-12-07 16:14:26+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000062.pdf
63	HS-2025-000063	3	Hồ Quốc Phúc	139 Phường 1	2025-12-08 08:21:39+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000063.pdf
64	HS-2025-000064	2	Lý Đức Châu	6 Xã Cẩm Hà	2025-12-09 09:28:52+07	dang_xu_ly	\N
65	HS-2025-000065	3	Dương Bảo Khánh	83 Xã Cẩm Hà	2025-12-10 10:35:05+07	moi_nop	\N
66	HS-2025-000066	6	Hoàng Quốc Mai	112 Thị trấn Nam Phước	2025-12-11 11:42:18+07	cho_bo_sung	uploads/2025/12/HS-2025-000066.pdf
67	HS-2025-000067	3	Lý Thanh Nam	130 Xã Tân Hiệp	2025-12-12 12:49:31+07	da_huy	uploads/2025/12/HS-2025-000067.pdf
68	HS-2025-000068	2	Phạm Văn Hà	90 Thị trấn Nam Phước	2025-12-13 13:56:44+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000068.pdf
69	HS-2025-000069	3	Lê Quốc Vy	78 Phường Minh An	2025-12-14 14:03:57+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000069.pdf
70	HS-2025-000070	2	Ngô Thu Khánh	45 Xã Tân Hiệp	2025-12-15 15:10:10+07	da_huy	\N
71	HS-2025-000071	5	Đặng Minh An	79 Phường 1	2025-12-16 16:17:23+07	dang_xu_ly	uploads/2025/12/HS-2025-000071.pdf
72	HS-2025-000072	6	Lý Minh Mai	41 Phường 1	2025-12-17 08:24:36+07	da_tra_ket_qua	\N
73	HS-2025-000073	2	Lý Thị An	100 Phường 3	2025-12-18 09:31:49+07	moi_nop	\N
74	HS-2025-000074	3	Lý Văn Hải	98 Phường 1	2025-12-19 10:38:02+07	da_huy	uploads/2025/12/HS-2025-000074.pdf
75	HS-2025-000075	3	Ngô Đức Tuấn	195 Phường 3	2025-12-20 11:45:15+07	cho_bo_sung	uploads/2025/12/HS-2025-000075.pdf
76	HS-2025-000076	4	Ngô Minh Long	77 Phường 1	2025-12-21 12:52:28+07	cho_bo_sung	uploads/2025/12/HS-2025-000076.pdf
77	HS-2025-000077	3	Hồ Hoàng Dũng	121 Xã Cẩm Hà	2025-12-22 13:59:41+07	da_tra_ket_qua	\N
78	HS-2025-000078	3	Phạm Hoàng Vy	101 Phường 3	2025-12-23 14:06:54+07	da_tra_ket_qua	\N
79	HS-2025-000079	5	Hoàng Thị Bình	200 Xã Tân Hiệp	2025-12-24 15:13:07+07	dang_xu_ly	\N
80	HS-2025-000080	3	Bùi Quốc Thảo	23 Phường 1	2025-12-25 16:20:20+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000080.pdf
81	HS-2025-000081	5	Hoàng Quốc Hạnh	65 Thị trấn Nam Phước	2025-12-26 08:27:33+07	dang_xu_ly	\N
82	HS-2025-000082	4	Vũ Ngọc Lan	171 Phường Minh An	2025-12-27 09:34:46+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000082.pdf
83	HS-2025-000083	2	Hoàng Ngọc Sơn	112 Phường 3	2025-12-28 10:41:59+07	dang_xu_ly	uploads/2025/12/HS-2025-000083.pdf
84	HS-2025-000084	4	Lê Quốc Lan	168 Thị trấn Nam Phước	2025-12-01 11:48:12+07	da_huy	\N
85	HS-2025-000085	5	Võ Hoàng Khánh	134 Thị trấn Nam Phước	2025-12-02 12:55:25+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000085.pdf
86	HS-2025-000086	6	Lê Quốc Châu	102 Phường 3	2025-12-03 13:02:38+07	da_tra_ket_qua	\N
87	HS-2025-000087	5	Lý Thanh Dũng	182 Thị trấn Nam Phước	2025-12-04 14:09:51+07	moi_nop	uploads/2025/12/HS-2025-000087.pdf
88	HS-2025-000088	5	Đặng Hoàng Mai	58 Phường 3	2025-12-05 15:16:04+07	da_tra_ket_qua	\N
89	HS-2025-000089	4	Đỗ Thu Mai	48 Phường 1	2025-12-06 16:23:17+07	cho_bo_sung	\N
90	HS-2025-000090	5	Dương Minh Hải	35 Xã Cẩm Hà	2025-12-07 08:30:30+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000090.pdf
91	HS-2025-000091	3	Trần Hoàng Tuấn	142 Phường 3	2025-12-08 09:37:43+07	dang_xu_ly	\N
92	HS-2025-000092	5	Bùi Thị Long	167 Phường 3	2025-12-09 10:44:56+07	dang_xu_ly	uploads/2025/12/HS-2025-000092.pdf
93	HS-2025-000093	2	Ngô Thu Yến	187 Xã Tân Hiệp	2025-12-10 11:51:09+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000093.pdf
94	HS-2025-000094	6	Đặng Hoàng Trang	200 Xã Cẩm Hà	2025-12-11 12:58:22+07	da_tra_ket_qua	\N
95	HS-2025-000095	2	Vũ Minh Thảo	168 Phường 1	2025-12-12 13:05:35+07	dang_xu_ly	uploads/2025/12/HS-2025-000095.pdf
96	HS-2025-000096	1	Huỳnh Hoàng Tuấn	10 Thị trấn Nam Phước	2025-12-13 14:12:48+07	dang_xu_ly	\N
97	HS-2025-000097	1	Hoàng Bảo Tuấn	83 Phường Minh An	2025-12-14 15:19:01+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000097.pdf
98	HS-2025-000098	2	Lý Quốc Mai	24 Phường 1	2025-12-15 16:26:14+07	moi_nop	\N
99	HS-2025-000099	4	Phan Thanh Phúc	64 Xã Tân Hiệp	2025-12-16 08:33:27+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000099.pdf
100	HS-2025-000100	1	Hoàng Thanh Châu	170 Phường 1	2025-12-17 09:40:40+07	moi_nop	\N
101	HS-2025-000101	4	Dương Thị Long	133 Thị trấn Nam Phước	2025-12-18 10:47:53+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000101.pdf
102	HS-2025-000102	1	Phan Ngọc Yến	173 Xã Cẩm Hà	2025-12-19 11:54:06+07	da_huy	uploads/2025/12/HS-2025-000102.pdf
103	HS-2025-000103	3	Lê Quốc Phúc	8 Xã Cẩm Hà	2025-12-20 12:01:19+07	dang_xu_ly	uploads/2025/12/HS-2025-000103.pdf
104	HS-2025-000104	6	Ngô Minh An	140 Phường Minh An	2025-12-21 13:08:32+07	dang_xu_ly	uploads/2025/12/HS-2025-000104.pdf
105	HS-2025-000105	5	Bùi Minh Thảo	129 Phường 1	2025-12-22 14:15:45+07	moi_nop	uploads/2025/12/HS-2025-000105.pdf
106	HS-2025-000106	1	Phan Thu Châu	56 Xã Cẩm Hà	2025-12-23 15:22:58+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000106.pdf
107	HS-2025-000107	2	Hoàng Thu Tuấn	125 Xã Tân Hiệp	2025-12-24 16:29:11+07	da_huy	\N
108	HS-2025-000108	6	Hồ Văn Hải	191 Phường Minh An	2025-12-25 08:36:24+07	moi_nop	uploads/2025/12/HS-2025-000108.pdf
109	HS-2025-000109	3	Dương Đức Hạnh	93 Xã Cẩm Hà	2025-12-26 09:43:37+07	dang_xu_ly	\N
110	HS-2025-000110	6	Lý Văn Giang	39 Phường Minh An	2025-12-27 10:50:50+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000110.pdf
111	HS-2025-000111	5	Lê Minh Giang	56 Phường Minh An	2025-12-28 11:57:03+07	da_huy	\N
112	HS-2025-000112	2	Trần Thanh Sơn	79 Phường 1	2025-12-01 12:04:16+07	dang_xu_ly	uploads/2025/12/HS-2025-000112.pdf
113	HS-2025-000113	4	Đỗ Thu Ngọc	130 Thị trấn Nam Phước	2025-12-02 13:11:29+07	da_tra_ket_qua	\N
114	HS-2025-000114	2	Huỳnh Ngọc Mai	114 Phường 3	2025-12-03 14:18:42+07	cho_bo_sung	uploads/2025/12/HS-2025-000114.pdf
115	HS-2025-000115	3	Lý Thu An	9 Xã Tân Hiệp	2025-12-04 15:25:55+07	da_tra_ket_qua	uploads/2025/12/HS-2025-000115.pdf
116	HS-2025-000116	4	Đặng Thu Bình	72 Phường 1	2025-12-05 16:32:08+07	da_tra_ket_qua	\N
117	HS-2025-000117	1	Lê Minh Trang	82 Phường 1	2025-12-06 08:39:21+07	da_tra_ket_qua	\N
118	HS-2025-000118	3	Bùi Văn Dũng	26 Thị trấn Nam Phước	2025-12-07 09:46:34+07	da_tra_ket_qua	\N
119	HS-2025-000119	6	Dương Đức Long	10 Phường 1	2025-12-08 10:53:47+07	da_tra_ket_qua	\N
120	HS-2025-000120	3	Võ Thu Trang	38 Thị trấn Nam Phước	2025-12-09 11:00:00+07	cho_bo_sung	uploads/2025/12/HS-2025-000120.pdf
121	HS-2026-000001	2	Ngô Bảo Khánh	192 Xã Cẩm Hà	2026-01-02 12:07:13+07	moi_nop	uploads/2026/01/HS-2026-000001.pdf
122	HS-2026-000002	4	Trần Quốc Hạnh	77 Xã Tân Hiệp	2026-01-03 13:14:26+07	da_tra_ket_qua	\N
123	HS-2026-000003	4	Hoàng Quốc Long	47 Thị trấn Nam Phước	2026-01-04 14:21:39+07	da_tra_ket_qua	\N
124	HS-2026-000004	4	Đỗ Quốc Lan	174 Phường 1	2026-01-05 15:28:52+07	da_huy	\N
125	HS-2026-000005	2	Huỳnh Đức Long	67 Phường Minh An	2026-01-06 16:35:05+07	cho_bo_sung	uploads/2026/01/HS-2026-000005.pdf
126	HS-2026-000006	1	Phạm Ngọc Mai	72 Thị trấn Nam Phước	2026-01-07 08:42:18+07	da_tra_ket_qua	\N
127	HS-2026-000007	4	Hồ Thu Hà	116 Thị trấn Nam Phước	2026-01-08 09:49:31+07	da_huy	\N
128	HS-2026-000008	6	Đỗ Thị Mai	122 Thị trấn Nam Phước	2026-01-09 10:56:44+07	moi_nop	uploads/2026/01/HS-2026-000008.pdf
129	HS-2026-000009	3	Võ Thanh Hà	175 Xã Tân Hiệp	2026-01-10 11:03:57+07	da_tra_ket_qua	uploads/2026/01/HS-2026-000009.pdf
130	HS-2026-000010	5	Vũ Hoàng Giang	90 Phường 1	2026-01-11 12:10:10+07	da_huy	\N
131	HS-2026-000011	2	Vũ Ngọc An	57 Xã Tân Hiệp	2026-01-12 13:17:23+07	da_tra_ket_qua	uploads/2026/01/HS-2026-000011.pdf
132	HS-2026-000012	6	Dương Minh Yến	95 Phường Minh An	2026-01-13 14:24:36+07	da_tra_ket_qua	\N
133	HS-2026-000013	3	Vũ Thu Hải	85 Thị trấn Nam Phước	2026-01-14 15:31:49+07	moi_nop	uploads/2026/01/HS-2026-000013.pdf
134	HS-2026-000014	4	Trần Hoàng Giang	128 Thị trấn Nam Phước	2026-01-15 16:38:02+07	dang_xu_ly	uploads/2026/01/HS-2026-000014.pdf
135	HS-2026-000015	3	Dương Bảo Phúc	183 Phường Minh An	2026-01-16 08:45:15+07	da_tra_ket_qua	uploads/2026/01/HS-2026-000015.pdf
136	HS-2026-000016	3	Đặng Thanh Hà	111 Thị trấn Nam Phước	2026-01-17 09:52:28+07	dang_xu_ly	\N
137	HS-2026-000017	6	Dương Hoàng Châu	128 Phường 1	2026-01-18 10:59:41+07	da_tra_ket_qua	uploads/2026/01/HS-2026-000017.pdf
138	HS-2026-000018	2	Lê Hoàng Mai	150 Xã Tân Hiệp	2026-01-19 11:06:54+07	da_huy	uploads/2026/01/HS-2026-000018.pdf
139	HS-2026-000019	4	Phan Minh Long	138 Xã Cẩm Hà	2026-01-20 12:13:07+07	moi_nop	uploads/2026/01/HS-2026-000019.pdf
140	HS-2026-000020	1	Đặng Ngọc Nam	13 Phường 1	2026-01-01 13:20:20+07	cho_bo_sung	\N
\.

COPY public.nhat_ky (id, ho_so_id, thoi_diem, can_bo, noi_dung) FROM stdin;
1	1	2025-12-02 09:07:13+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
2	3	2025-12-04 11:21:39+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
3	4	2025-12-05 12:28:52+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
4	5	2025-12-06 13:35:05+07	Đặng Thị Lan	Đã trả kết quả cho công dân
5	6	2025-12-07 14:42:18+07	Ngô Minh Tuấn	Hủy theo đề nghị của người nộp
6	7	2025-12-08 15:49:31+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
7	9	2025-12-10 08:03:57+07	Đặng Thị Lan	Đã trả kết quả cho công dân
8	10	2025-12-11 09:10:10+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
9	11	2025-12-12 10:17:23+07	Đặng Thị Lan	Đã trả kết quả cho công dân
10	12	2025-12-13 11:24:36+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
11	14	2025-12-15 13:38:02+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
12	15	2025-12-16 14:45:15+07	Đặng Thị Lan	Đã trả kết quả cho công dân
13	16	2025-12-17 15:52:28+07	Đặng Thị Lan	Đã trả kết quả cho công dân
14	17	2025-12-18 16:59:41+07	Phạm Thu Hà	Đã trả kết quả cho công dân
15	18	2025-12-19 08:06:54+07	Đặng Thị Lan	Hủy theo đề nghị của người nộp
16	19	2025-12-20 09:13:07+07	Phạm Thu Hà	Đã trả kết quả cho công dân
17	20	2025-12-21 10:20:20+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
18	21	2025-12-22 11:27:33+07	Phạm Thu Hà	Đã trả kết quả cho công dân
19	22	2025-12-23 12:34:46+07	Đặng Thị Lan	Đã trả kết quả cho công dân
20	24	2025-12-25 14:48:12+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
21	25	2025-12-26 15:55:25+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
22	26	2025-12-27 16:02:38+07	Đặng Thị Lan	Hủy theo đề nghị của người nộp
23	27	2025-12-28 08:09:51+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
24	28	2025-12-01 09:16:04+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
25	30	2025-12-03 11:30:30+07	Phạm Thu Hà	Đã trả kết quả cho công dân
26	31	2025-12-04 12:37:43+07	Đặng Thị Lan	Hủy theo đề nghị của người nộp
27	32	2025-12-05 13:44:56+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
28	33	2025-12-06 14:51:09+07	Phạm Thu Hà	Đã trả kết quả cho công dân
29	34	2025-12-07 15:58:22+07	Phạm Thu Hà	Đã trả kết quả cho công dân
30	35	2025-12-08 16:05:35+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
31	36	2025-12-09 08:12:48+07	Phạm Thu Hà	Đã trả kết quả cho công dân
32	37	2025-12-10 09:19:01+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
33	38	2025-12-11 10:26:14+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
34	39	2025-12-12 11:33:27+07	Ngô Minh Tuấn	Hủy theo đề nghị của người nộp
35	40	2025-12-13 12:40:40+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
36	41	2025-12-14 13:47:53+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
37	42	2025-12-15 14:54:06+07	Đặng Thị Lan	Đã trả kết quả cho công dân
38	43	2025-12-16 15:01:19+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
39	44	2025-12-17 16:08:32+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
40	45	2025-12-18 08:15:45+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
41	46	2025-12-19 09:22:58+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
42	48	2025-12-21 11:36:24+07	Đặng Thị Lan	Đã trả kết quả cho công dân
43	49	2025-12-22 12:43:37+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
44	50	2025-12-23 13:50:50+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
45	51	2025-12-24 14:57:03+07	Phạm Thu Hà	Đã trả kết quả cho công dân
46	52	2025-12-25 15:04:16+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
47	55	2025-12-28 09:25:55+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
48	57	2025-12-02 11:39:21+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
49	58	2025-12-03 12:46:34+07	Phạm Thu Hà	Đã trả kết quả cho công dân
50	59	2025-12-04 13:53:47+07	Đặng Thị Lan	Hủy theo đề nghị của người nộp
51	60	2025-12-05 14:00:00+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
52	61	2025-12-06 15:07:13+07	Phạm Thu Hà	Đã trả kết quả cho công dân
53	62	2025-12-07 16:14:26+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
54	63	2025-12-08 08:21:39+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
55	64	2025-12-09 09:28:52+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
56	66	2025-12-11 11:42:18+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
57	67	2025-12-12 12:49:31+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
58	68	2025-12-13 13:56:44+07	Đặng Thị Lan	Đã trả kết quả cho công dân
59	69	2025-12-14 14:03:57+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
60	70	2025-12-15 15:10:10+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
61	71	2025-12-16 16:17:23+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
62	72	2025-12-17 08:24:36+07	Phạm Thu Hà	Đã trả kết quả cho công dân
63	74	2025-12-19 10:38:02+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
64	75	2025-12-20 11:45:15+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
65	76	2025-12-21 12:52:28+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
66	77	2025-12-22 13:59:41+07	Phạm Thu Hà	Đã trả kết quả cho công dân
67	78	2025-12-23 14:06:54+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
68	79	2025-12-24 15:13:07+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
69	80	2025-12-25 16:20:20+07	Phạm Thu Hà	Đã trả kết quả cho công dân
70	81	2025-12-26 08:27:33+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
71	82	2025-12-27 09:34:46+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
72	83	2025-12-28 10:41:59+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
73	84	2025-12-01 11:48:12+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
74	85	2025-12-02 12:55:25+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
75	86	2025-12-03 13:02:38+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
76	88	2025-12-05 15:16:04+07	Phạm Thu Hà	Đã trả kết quả cho công dân
77	89	2025-12-06 16:23:17+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
78	90	2025-12-07 08:30:30+07	Đặng Thị Lan	Đã trả kết quả cho công dân
79	91	2025-12-08 09:37:43+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
80	92	2025-12-09 10:44:56+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
81	93	2025-12-10 11:51:09+07	Phạm Thu Hà	Đã trả kết quả cho công dân
82	94	2025-12-11 12:58:22+07	Đặng Thị Lan	Đã trả kết quả cho công dân
83	95	2025-12-12 13:05:35+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
84	96	2025-12-13 14:12:48+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
85	97	2025-12-14 15:19:01+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
86	99	2025-12-16 08:33:27+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
87	101	2025-12-18 10:47:53+07	Phạm Thu Hà	Đã trả kết quả cho công dân
88	102	2025-12-19 11:54:06+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
89	103	2025-12-20 12:01:19+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
90	104	2025-12-21 13:08:32+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
91	106	2025-12-23 15:22:58+07	Phạm Thu Hà	Đã trả kết quả cho công dân
92	107	2025-12-24 16:29:11+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
93	109	2025-12-26 09:43:37+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
94	110	2025-12-27 10:50:50+07	Phạm Thu Hà	Đã trả kết quả cho công dân
95	111	2025-12-28 11:57:03+07	Phạm Thu Hà	Hủy theo đề nghị của người nộp
96	112	2025-12-01 12:04:16+07	Đặng Thị Lan	Chuyển phòng chuyên môn xử lý
97	113	2025-12-02 13:11:29+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
98	114	2025-12-03 14:18:42+07	Phạm Thu Hà	Yêu cầu bổ sung giấy tờ
99	115	2025-12-04 15:25:55+07	Phạm Thu Hà	Đã trả kết quả cho công dân
100	116	2025-12-05 16:32:08+07	Phạm Thu Hà	Đã trả kết quả cho công dân
101	117	2025-12-06 08:39:21+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
102	118	2025-12-07 09:46:34+07	Phạm Thu Hà	Đã trả kết quả cho công dân
103	119	2025-12-08 10:53:47+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
104	120	2025-12-09 11:00:00+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
105	122	2026-01-03 13:14:26+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
106	123	2026-01-04 14:21:39+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
107	124	2026-01-05 15:28:52+07	Ngô Minh Tuấn	Hủy theo đề nghị của người nộp
108	125	2026-01-06 16:35:05+07	Ngô Minh Tuấn	Yêu cầu bổ sung giấy tờ
109	126	2026-01-07 08:42:18+07	Đặng Thị Lan	Đã trả kết quả cho công dân
110	127	2026-01-08 09:49:31+07	Đặng Thị Lan	Hủy theo đề nghị của người nộp
111	129	2026-01-10 11:03:57+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
112	130	2026-01-11 12:10:10+07	Ngô Minh Tuấn	Hủy theo đề nghị của người nộp
113	131	2026-01-12 13:17:23+07	Đặng Thị Lan	Đã trả kết quả cho công dân
114	132	2026-01-13 14:24:36+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
115	134	2026-01-15 16:38:02+07	Phạm Thu Hà	Chuyển phòng chuyên môn xử lý
116	135	2026-01-16 08:45:15+07	Đặng Thị Lan	Đã trả kết quả cho công dân
117	136	2026-01-17 09:52:28+07	Ngô Minh Tuấn	Chuyển phòng chuyên môn xử lý
118	137	2026-01-18 10:59:41+07	Ngô Minh Tuấn	Đã trả kết quả cho công dân
119	138	2026-01-19 11:06:54+07	Ngô Minh Tuấn	Hủy theo đề nghị của người nộp
120	140	2026-01-01 13:20:20+07	Đặng Thị Lan	Yêu cầu bổ sung giấy tờ
\.

ALTER TABLE ONLY public.thu_tuc
    ADD CONSTRAINT thu_tuc_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ho_so
    ADD CONSTRAINT ho_so_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ho_so
    ADD CONSTRAINT ho_so_ma_ho_so_key UNIQUE (ma_ho_so);

ALTER TABLE ONLY public.nhat_ky
    ADD CONSTRAINT nhat_ky_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ho_so
    ADD CONSTRAINT ho_so_thu_tuc_id_fkey FOREIGN KEY (thu_tuc_id) REFERENCES public.thu_tuc(id);

ALTER TABLE ONLY public.nhat_ky
    ADD CONSTRAINT nhat_ky_ho_so_id_fkey FOREIGN KEY (ho_so_id) REFERENCES public.ho_so(id);

--
-- PostgreSQL database dump complete
--

