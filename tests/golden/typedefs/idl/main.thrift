typedef i64 Id
typedef Id UserId
typedef list<UserId> UserIds
typedef map<string, UserIds> Groups
typedef set<list<Id>> Paths
struct Account { 1: UserId owner, 2: Groups groups, 3: Paths paths }
typedef Account Principal
